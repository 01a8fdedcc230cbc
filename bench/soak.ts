// Soak: steady mixed load against a child `ganforge serve` for minutes, checking that nothing fails and memory stays
// flat. The mix (soakRequest) covers n=1 PNG and n=4 JSON, seeded and unseeded, class labels by index and by name,
// truncation, .npy, a revalidation that must get 304, and a small share of malformed requests that must get 400.
// Every response with another status counts as an error. The server's RSS is sampled from /proc/<pid>/status: its
// /metrics has no process memory series (it would need process_resident_memory_bytes and a V8 heap gauge such as
// nodejs_heap_size_used_bytes to report heap too). Memory is flat when the least-squares line through the RSS samples
// taken after the warm-up grows by less than --growth-bound percent over the run.
//
//   node --import tsx bench/soak.ts [--model models/default.onnx] [--seconds 300] [--concurrency 8] [--workers 2]
//                                   [--warmup 30] [--sample-seconds 5] [--growth-bound 10] [--server-flags='...']

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fetchJson, linearFit, readRssBytes, runClosedLoop, splitFlags, startGanforge, type LoadRequest, type NodeChild } from './load.ts';

const MAX_SECONDS = 600;
const MB = 1024 * 1024;

/** What the request mix needs to know about the served model. */
export interface SoakModel {
  classes: string[] | null;
  /** ETag of `REVALIDATED_PATH`, fetched once before the run; null = no revalidation requests. */
  etag: string | null;
}

/** The seeded request whose ETag the mix revalidates with If-None-Match. */
export const REVALIDATED_PATH = '/generate?seed=7&n=1';

/** Malformed queries that must be refused with 400, cycled through. */
const BAD_QUERIES = ['n=0', 'format=gif', 'seed=-1', 'truncation=abc', 'n=1&n=2'];

/**
 * The `seq`-th request of the soak mix. Out of every 20: 8 seeded n=1 PNG (class by index), 3 unseeded n=1 PNG,
 * 4 seeded n=4 JSON (class by name), 2 unseeded n=4 JSON at truncation 0.7, 1 seeded n=2 .npy, 1 revalidation
 * (304), 1 malformed (400). Seeds never repeat, so no response can come from a cache.
 */
export function soakRequest(seq: number, model: SoakModel): LoadRequest {
  const slot = seq % 20;
  const classes = model.classes;
  const byIndex = classes === null ? '' : `&class=${seq % classes.length}`;
  const byName = classes === null ? '' : `&class=${encodeURIComponent(classes[seq % classes.length]!)}`;
  if (slot < 8) return { path: `/generate?seed=${seq}${byIndex}`, expectStatus: 200, kind: 'png n=1' };
  if (slot < 11) return { path: `/generate?n=1${byIndex}`, expectStatus: 200, kind: 'png n=1' };
  if (slot < 15) return { path: `/generate?n=4&format=json&seed=${seq}${byName}`, expectStatus: 200, kind: 'json n=4' };
  if (slot < 17) return { path: `/generate?n=4&format=json&truncation=0.7${byIndex}`, expectStatus: 200, kind: 'json n=4' };
  if (slot === 17) return { path: `/generate?n=2&format=npy&seed=${seq}`, expectStatus: 200, kind: 'npy n=2' };
  if (slot === 18 && model.etag !== null) return { path: REVALIDATED_PATH, headers: { 'If-None-Match': model.etag }, expectStatus: 304, kind: '304 revalidation' };
  // A class on an unconditional model, or an out-of-range class on a conditional one, is as malformed as the rest.
  const bad = [...BAD_QUERIES, classes === null ? 'class=1' : `class=${classes.length}`];
  return { path: `/generate?${bad[Math.floor(seq / 20) % bad.length]!}`, expectStatus: 400, kind: '400 malformed' };
}

export interface MemorySample {
  /** Seconds since the load started. */
  t: number;
  rssBytes: number;
}

export interface MemoryVerdict {
  /** Samples at or after the warm-up that the verdict is based on. */
  samples: number;
  startBytes: number;
  endBytes: number;
  maxBytes: number;
  /** Slope of the least-squares line through the samples, MB per minute. */
  slopeMbPerMinute: number;
  /** Growth of that line over the sampled span, as a fraction of its value at the start. */
  growthFraction: number;
  pass: boolean;
}

/** Flat = the fitted RSS line grows by less than `boundFraction` between the first and the last post-warm-up sample. */
export function memoryVerdict(all: readonly MemorySample[], warmupSeconds: number, boundFraction: number): MemoryVerdict {
  const samples = all.filter((s) => s.t >= warmupSeconds);
  if (samples.length < 3) throw new RangeError(`a memory verdict needs ≥ 3 samples after the ${warmupSeconds} s warm-up, got ${samples.length}`);
  const { slope, intercept } = linearFit(samples.map((s) => ({ x: s.t, y: s.rssBytes })));
  const first = samples[0]!.t;
  const last = samples.at(-1)!.t;
  const fittedStart = intercept + slope * first;
  const growthFraction = (slope * (last - first)) / fittedStart;
  return {
    samples: samples.length,
    startBytes: samples[0]!.rssBytes,
    endBytes: samples.at(-1)!.rssBytes,
    maxBytes: Math.max(...samples.map((s) => s.rssBytes)),
    slopeMbPerMinute: (slope * 60) / MB,
    growthFraction,
    pass: growthFraction < boundFraction,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/default.onnx' },
      seconds: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '8' },
      workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
      warmup: { type: 'string', default: '30' },
      'sample-seconds': { type: 'string', default: '5' },
      'growth-bound': { type: 'string', default: '10' },
      'server-flags': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node --import tsx bench/soak.ts [--model models/default.onnx] [--seconds 300] [--concurrency 8] [--workers N] [--warmup 30] [--sample-seconds 5] [--growth-bound 10] [--server-flags=\'...\']');
    return;
  }
  const seconds = Number(values.seconds);
  if (!(seconds >= 10 && seconds <= MAX_SECONDS)) throw new RangeError(`'--seconds' must be in [10, ${MAX_SECONDS}], got ${values.seconds}`);
  const concurrency = Number(values.concurrency);
  if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256)) throw new RangeError(`'--concurrency' must be an integer in [1, 256], got ${values.concurrency}`);
  const workers = Number(values.workers);
  // A short validation run still gets a warm-up and enough samples for a fit: at most a quarter of the run each.
  const warmup = Math.min(Number(values.warmup), seconds / 4);
  const sampleSeconds = Math.min(Number(values['sample-seconds']), seconds / 10);
  const bound = Number(values['growth-bound']) / 100;

  const dir = mkdtempSync(join(tmpdir(), 'ganforge-soak-'));
  let server: NodeChild | undefined;
  try {
    copyFileSync(resolve(values.model), join(dir, 'default.onnx'));
    let serverErrors = 0;
    let serverWarnings = 0;
    // The server logs JSON lines, warnings and errors on stderr; 'error' lines are 5xx answers or internal failures
    // (a crashed worker, a failed batch), 'warn' lines are worth a look but fail nothing.
    server = await startGanforge(dir, { workers, extraFlags: splitFlags(values['server-flags']) }, (line) => {
      if (line.includes('"level":"error"')) serverErrors++;
      else if (line.includes('"level":"warn"')) serverWarnings++;
    });
    const listed = await fetchJson<{ models: { name: string; classes: string[] | null }[] }>(`${server.url}/models`);
    const revalidated = await fetch(server.url + REVALIDATED_PATH);
    await revalidated.arrayBuffer();
    const model: SoakModel = { classes: listed.models[0]!.classes, etag: revalidated.headers.get('etag') };

    const pid = server.pid;
    const samples: MemorySample[] = [];
    const start = performance.now();
    const sample = () => {
      const rssBytes = readRssBytes(pid);
      if (rssBytes !== undefined) samples.push({ t: (performance.now() - start) / 1000, rssBytes });
    };
    sample();
    const timer = setInterval(sample, sampleSeconds * 1000);
    const load = await runClosedLoop({ baseUrl: server.url, concurrency, seconds, next: (seq) => soakRequest(seq, model), warmup: 0 });
    clearInterval(timer);
    sample();

    const memory = memoryVerdict(samples, warmup, bound);
    const errors = load.unexpectedTotal + serverErrors;
    const pass = errors === 0 && memory.pass;
    const mb = (bytes: number) => (bytes / MB).toFixed(1);
    console.log(`\n${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, Node ${process.version}, ${values.model}, ${workers} workers, concurrency ${concurrency}, ${load.seconds.toFixed(0)} s`);
    console.log('| requests | req/s | unexpected statuses | server error / warn lines | p50 ms | p99 ms | max ms |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    const total = load.requests + load.unexpectedTotal;
    console.log(`| ${total} | ${(total / load.seconds).toFixed(0)} | ${load.unexpectedTotal}${load.unexpectedTotal > 0 ? ` ${JSON.stringify(load.unexpected)}` : ''} | ${serverErrors} / ${serverWarnings} | ${load.latency.p50Ms.toFixed(1)} | ${load.latency.p99Ms.toFixed(1)} | ${load.latency.maxMs.toFixed(1)} |`);
    console.log('\n| kind | requests | p50 ms | p99 ms |');
    console.log('|---|---:|---:|---:|');
    for (const [kind, s] of Object.entries(load.byKind)) console.log(`| ${kind} | ${s.count} | ${s.p50Ms.toFixed(1)} | ${s.p99Ms.toFixed(1)} |`);
    console.log(
      `\nserver RSS after the ${warmup.toFixed(0)} s warm-up ${mb(memory.startBytes)} MB, at the end ${mb(memory.endBytes)} MB, max ${mb(memory.maxBytes)} MB ` +
        `(${memory.samples} samples every ${sampleSeconds.toFixed(1)} s); fitted slope ${memory.slopeMbPerMinute.toFixed(2)} MB/min = ` +
        `${(memory.growthFraction * 100).toFixed(1)}% over the run → memory ${memory.pass ? 'flat' : 'GROWING'} (bound ${(bound * 100).toFixed(0)}%)`,
    );
    console.log(`soak: ${pass ? 'PASS' : 'FAIL'} (${errors} errors, memory ${memory.pass ? 'flat' : 'growing'})`);
    console.log(JSON.stringify({
      benchmark: 'soak', model: values.model, seconds: load.seconds, concurrency, workers, requests: total, unexpected: load.unexpected, serverErrors, serverWarnings,
      latency: load.latency, byKind: load.byKind, warmupSeconds: warmup, memory, samples, pass,
    }));
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
