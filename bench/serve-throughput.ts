// /generate throughput over loopback: requests/s and p50/p99 latency at n=1 for several client concurrencies, next to
// two ceilings measured in the same run: a bare node:http server answering a fixed PNG of the same size (what HTTP
// alone costs) and the same model run in-process in onnxruntime-node at the batch size the server achieved (what
// inference alone costs, bench/ort-ceiling.ts). For each ganforge point it also reports the mean batch the dynamic
// batcher formed and the latency of /healthz probed on its own connection while /generate is saturated.
//
//   node --import tsx bench/serve-throughput.ts [--model models/mlp.onnx] [--seconds 5] [--concurrency 1,8,32] [--workers 2]
//                                               [--server-flags='--batch-delay-ms 2 --preferred-batch 16']
//
// Without --model it serves a fixture MLP-sized generator (z 100 → 256 → 256 → 28×28×1). The target line checks the
// serving requirement: ganforge's req/s at the target concurrency ≥ 60% of the lower ceiling.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixtureGenerator } from '../test/fixtures/onnx-fixtures.ts';
import {
  batchTotals, fetchBytes, fetchText, meanBatchBetween, runClosedLoop, splitFlags, startFixedResponseServer, startGanforge, startProbe,
  type LoadResult, type NodeChild, type ProbeResult,
} from './load.ts';
import { measureOrtCeiling, type OrtCeilingResult } from './ort-ceiling.ts';

const MAX_SECONDS_PER_POINT = 20;
const TARGET_FRACTION = 0.6;

interface Point {
  target: string;
  concurrency: number;
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** ganforge only: images per inference batch over the point. */
  meanBatch?: number;
  /** ganforge only: /healthz latency while /generate was saturated. */
  healthz?: ProbeResult;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,8,32' },
    workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    'max-batch': { type: 'string', default: '64' },
    'target-concurrency': { type: 'string', default: '32' },
    'probe-ms': { type: 'string', default: '20' },
    'server-flags': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node --import tsx bench/serve-throughput.ts [--model FILE] [--seconds 5] [--concurrency 1,8,32] [--workers N] [--max-batch 64] [--target-concurrency 32] [--probe-ms 20] [--server-flags=\'--batch-delay-ms 2 ...\']');
  process.exit(0);
}
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= MAX_SECONDS_PER_POINT)) throw new RangeError(`'--seconds' must be in (0, ${MAX_SECONDS_PER_POINT}], got ${values.seconds}`);
const concurrencies = values.concurrency.split(',').map(Number);
if (!concurrencies.every((c) => Number.isInteger(c) && c >= 1 && c <= 256)) throw new RangeError(`'--concurrency' must list integers in [1, 256], got ${values.concurrency}`);
const targetConcurrency = Number(values['target-concurrency']);
if (!concurrencies.includes(targetConcurrency)) throw new RangeError(`'--target-concurrency' ${targetConcurrency} must be one of --concurrency ${values.concurrency}`);
const workers = Number(values.workers);
const probeMs = Number(values['probe-ms']);

const dir = mkdtempSync(join(tmpdir(), 'ganforge-bench-'));
const servers: NodeChild[] = [];
try {
  const modelFile = join(dir, 'default.onnx');
  if (values.model !== undefined) copyFileSync(resolve(values.model), modelFile);
  else writeFileSync(modelFile, buildFixtureGenerator({ latentDim: 100, imageShape: [28, 28, 1], slowLayers: 1, slowWidth: 256 }));

  const ganforge = await startGanforge(dir, { workers, maxBatch: Number(values['max-batch']), extraFlags: splitFlags(values['server-flags']) });
  servers.push(ganforge);
  const png = await fetchBytes(`${ganforge.url}/generate?seed=1`);
  const pngFile = join(dir, 'fixed.png');
  writeFileSync(pngFile, png);
  const baseline = await startFixedResponseServer(pngFile, 'image/png');
  servers.push(baseline);

  const points: Point[] = [];
  for (const concurrency of concurrencies) {
    points.push(toPoint('node:http fixed PNG', await runClosedLoop({ baseUrl: baseline.url, concurrency, seconds, next: seededRequest })));
    const before = batchTotals(await fetchText(`${ganforge.url}/metrics`));
    const probe = startProbe(`${ganforge.url}/healthz`, probeMs);
    const load = await runClosedLoop({ baseUrl: ganforge.url, concurrency, seconds, next: seededRequest });
    const healthz = await probe.stop();
    const after = batchTotals(await fetchText(`${ganforge.url}/metrics`));
    points.push({ ...toPoint('ganforge /generate n=1', load), meanBatch: meanBatchBetween(before, after), healthz });
  }
  // The servers are idle now, but stop them so the ceiling has the machine to itself.
  await Promise.all(servers.map((s) => s.stop()));

  // One ceiling run per distinct (rounded) batch size the server reached.
  const ceilings = new Map<number, OrtCeilingResult>();
  for (const p of points) {
    if (p.meanBatch === undefined) continue;
    const batch = ceilingBatch(p.meanBatch);
    if (!ceilings.has(batch)) ceilings.set(batch, await measureOrtCeiling({ modelFile, batch, workers, seconds: Math.min(seconds, 5) }));
  }

  console.log(`\n${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, Node ${process.version}, ${workers} workers, max-batch ${values['max-batch']}${values['server-flags'] === undefined ? '' : `, server flags '${values['server-flags']}'`}, PNG ${png.length} bytes, ${seconds} s per point, /healthz probed every ${probeMs} ms`);
  console.log('| server | concurrency | req/s | p50 ms | p99 ms | errors | mean batch | ORT in-process img/s at that batch | /healthz p50 / p99 / max ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of points) {
    const ceiling = p.meanBatch === undefined ? undefined : ceilings.get(ceilingBatch(p.meanBatch));
    const cells = [
      p.target, String(p.concurrency), p.requestsPerSecond.toFixed(0), p.p50Ms.toFixed(2), p.p99Ms.toFixed(2), String(p.errors),
      p.meanBatch === undefined ? '–' : p.meanBatch.toFixed(2),
      ceiling === undefined ? '–' : `${ceiling.imagesPerSecond.toFixed(0)} (batch ${ceiling.batch})`,
      p.healthz === undefined ? '–' : `${p.healthz.p50Ms.toFixed(2)} / ${p.healthz.p99Ms.toFixed(2)} / ${p.healthz.maxMs.toFixed(2)}${p.healthz.failures > 0 ? ` (${p.healthz.failures} failed)` : ''}`,
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }

  const served = points.find((p) => p.concurrency === targetConcurrency && p.meanBatch !== undefined)!;
  const bare = points.find((p) => p.concurrency === targetConcurrency && p.meanBatch === undefined)!;
  const ort = ceilings.get(ceilingBatch(served.meanBatch!))!;
  const lower = Math.min(ort.imagesPerSecond, bare.requestsPerSecond);
  const fraction = served.requestsPerSecond / lower;
  const pass = fraction >= TARGET_FRACTION && served.errors === 0;
  console.log(
    `\ntarget (c=${targetConcurrency}, n=1): ganforge ${served.requestsPerSecond.toFixed(0)} req/s ÷ min(ORT in-process ${ort.imagesPerSecond.toFixed(0)} img/s at batch ${ort.batch}, ` +
      `node:http ${bare.requestsPerSecond.toFixed(0)} req/s) = ${(fraction * 100).toFixed(0)}% → ${pass ? 'PASS' : 'FAIL'} (needs ≥ ${TARGET_FRACTION * 100}%${served.errors > 0 ? ' and no errors' : ''})`,
  );
  console.log(JSON.stringify({
    benchmark: 'serve-throughput', seconds, workers, maxBatch: Number(values['max-batch']), serverFlags: values['server-flags'] ?? '', pngBytes: png.length, points, ceilings: [...ceilings.values()],
    target: { concurrency: targetConcurrency, ganforgeRps: served.requestsPerSecond, ortImagesPerSecond: ort.imagesPerSecond, bareRps: bare.requestsPerSecond, fraction, pass },
  }));
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}

/** n=1 with a fresh seed each time, so neither ganforge nor any cache can reuse an answer. */
function seededRequest(seq: number) {
  return { path: `/generate?seed=${seq}`, expectStatus: 200 };
}

function toPoint(target: string, r: LoadResult): Point {
  return {
    target, concurrency: r.concurrency, requests: r.requests, errors: r.unexpectedTotal, seconds: r.seconds,
    requestsPerSecond: r.requestsPerSecond, p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms,
  };
}

/** The batch the ceiling runs at: the server's mean batch rounded, at least 1 (NaN when no batch ran → 1). */
function ceilingBatch(meanBatch: number): number {
  return Number.isFinite(meanBatch) ? Math.max(1, Math.round(meanBatch)) : 1;
}
