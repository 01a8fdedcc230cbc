// /generate throughput over loopback: requests/s and p50/p99 latency at n=1 for several client concurrencies, next to
// a baseline measured in the same run (a bare node:http server answering a fixed PNG of the same size), so the figure
// shows what ganforge's parsing, queueing, inference and encoding cost on top of HTTP itself.
//
//   node --import tsx bench/serve-throughput.ts [--model models/mlp.onnx] [--seconds 5] [--concurrency 1,8,32] [--workers 2]
//
// Without --model it serves a fixture MLP-sized generator (z 100 → 256 → 256 → 28×28×1). The servers run in child
// processes so the load generator does not share their event loop.

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { buildFixtureGenerator } from '../test/fixtures/onnx-fixtures.ts';

const MAX_SECONDS_PER_POINT = 20;

interface Point {
  target: string;
  concurrency: number;
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,8,32' },
    workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    'max-batch': { type: 'string', default: '64' },
  },
});
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= MAX_SECONDS_PER_POINT)) throw new RangeError(`'--seconds' must be in (0, ${MAX_SECONDS_PER_POINT}], got ${values.seconds}`);
const concurrencies = values.concurrency.split(',').map(Number);
if (!concurrencies.every((c) => Number.isInteger(c) && c >= 1 && c <= 256)) throw new RangeError(`'--concurrency' must list integers in [1, 256], got ${values.concurrency}`);

const dir = mkdtempSync(join(tmpdir(), 'ganforge-bench-'));
const children: ChildProcess[] = [];
try {
  const modelName = 'default';
  if (values.model !== undefined) copyFileSync(resolve(values.model), join(dir, `${modelName}.onnx`));
  else writeFileSync(join(dir, `${modelName}.onnx`), buildFixtureGenerator({ latentDim: 100, imageShape: [28, 28, 1], slowLayers: 1, slowWidth: 256 }));

  const ganforge = await startChild(['--import', 'tsx', 'cli/main.ts', 'serve', '--models', dir, '--port', '0', '--device', 'cpu', '--workers', values.workers, '--max-batch', values['max-batch'], '--api-only']);
  const png = await fetchBytes(`${ganforge.url}/generate?seed=1`);
  const pngFile = join(dir, 'fixed.png');
  writeFileSync(pngFile, png);
  const baselineScript = `
    const http = require('node:http'); const body = require('node:fs').readFileSync(${JSON.stringify(pngFile)});
    const server = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': body.length }); res.end(body); });
    server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening', url: 'http://127.0.0.1:' + server.address().port })));`;
  const baseline = await startChild(['-e', baselineScript]);

  const points: Point[] = [];
  for (const concurrency of concurrencies) {
    points.push(await measure('node:http fixed PNG', `${baseline.url}/generate?seed=`, concurrency));
    const before = await fetchJson(`${ganforge.url}/healthz`);
    points.push(await measure('ganforge /generate n=1', `${ganforge.url}/generate?seed=`, concurrency));
    const after = await fetchJson(`${ganforge.url}/healthz`);
    const batches = after.workers.batches - before.workers.batches;
    const merged = after.workers.mergedRequests - before.workers.mergedRequests;
    console.error(`  c=${concurrency}: ${batches} inference batches, ${merged} requests merged into another's batch`);
  }

  console.log(`\n${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, Node ${process.version}, ${values.workers} workers, PNG ${png.length} bytes, ${seconds} s per point`);
  console.log('| server | concurrency | req/s | p50 ms | p99 ms | errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const p of points) {
    console.log(`| ${p.target} | ${p.concurrency} | ${p.requestsPerSecond.toFixed(0)} | ${p.p50Ms.toFixed(2)} | ${p.p99Ms.toFixed(2)} | ${p.errors} |`);
  }
  console.log(JSON.stringify({ benchmark: 'serve-throughput', seconds, workers: Number(values.workers), pngBytes: png.length, points }));
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `concurrency` closed-loop clients for `seconds`, each request with a fresh seed. */
async function measure(target: string, urlPrefix: string, concurrency: number): Promise<Point> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let seed = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, 4) }, () => get(agent, `${urlPrefix}0`))); // warm connections
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      const status = await get(agent, `${urlPrefix}${seed++}`);
      if (status === 200) latencies.push(performance.now() - t);
      else errors++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { target, concurrency, requests: latencies.length, errors, seconds: elapsed, requestsPerSecond: latencies.length / elapsed, p50Ms: quantile(0.5), p99Ms: quantile(0.99) };
}

function get(agent: Agent, url: string): Promise<number> {
  return new Promise((done) => {
    request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    }).on('error', () => done(0)).end();
  });
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchJson(url: string): Promise<{ workers: { batches: number; mergedRequests: number } }> {
  return (await (await fetch(url)).json()) as { workers: { batches: number; mergedRequests: number } };
}

/** Starts a node child that logs a JSON 'listening' line with its url; its later output is read and dropped. */
function startChild(args: string[]): Promise<{ url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolveUrl, reject) => {
    // Keep draining stdout (the server logs a line per request) so a full pipe never slows the server down.
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('"listening"')) return;
      const entry = JSON.parse(line) as { url?: string };
      if (entry.url !== undefined) resolveUrl({ url: entry.url });
    });
    child.on('exit', () => reject(new Error(`child ${args.join(' ').slice(0, 80)} exited before listening`)));
  });
}
