// The in-process ceiling of a serving benchmark: images/s of the same .onnx run straight in onnxruntime-node, with
// the server's inference layout (W worker threads, one session each, the pool's intra-op thread count and no
// spinning) and the batch size the server achieved, but no HTTP, no queue and no encoding. measureOrtCeiling() runs it
// in a child process so it neither shares the benchmark's event loop nor competes with a server that is under load.
//
//   node --import tsx bench/ort-ceiling.ts --model FILE --batch 8 --workers 2 [--threads N] [--seconds 3]
//   node --import tsx bench/ort-ceiling.ts --gemm-peak [--threads 1] [--seconds 3]
//
// --gemm-peak measures what one session can compute at best on this machine: a large float32 MatMul (MLAS's GEMM,
// the kernel ConvTranspose and MatMul run on), in GFLOP/s. A generator's own rate at batch 1 over that peak bounds
// what any batching can gain: batching only raises a kernel's efficiency, never past the peak.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { sampleLatents } from '../common/latents.ts';
import { readManifest } from '../common/onnx-metadata.ts';
import { OnnxGraphBuilder } from '../export/onnx-graph.ts';
import { createNodeSession, ort } from '../runtime/ort-node.ts';
import { runNodeScript } from './load.ts';

export interface OrtCeilingOptions {
  modelFile: string;
  /** Images per run(). */
  batch: number;
  /** Worker threads, one session each (the server's --workers). */
  workers: number;
  /** Intra-op threads per session. Default max(1, floor(cores / workers)), as the inference pool does. */
  threads?: number;
  seconds: number;
}

export interface OrtCeilingResult {
  batch: number;
  workers: number;
  threads: number;
  runs: number;
  seconds: number;
  imagesPerSecond: number;
}

interface WorkerSetup {
  bytes: Uint8Array;
  batch: number;
  threads: number;
}

/** Spawns the measurement in a child process and returns its result. */
export async function measureOrtCeiling(options: OrtCeilingOptions): Promise<OrtCeilingResult> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--model', options.modelFile, '--batch', String(options.batch), '--workers', String(options.workers), '--seconds', String(options.seconds)];
  if (options.threads !== undefined) args.push('--threads', String(options.threads));
  const line = (await runNodeScript(args)).find((l) => l.startsWith('{"benchmark":"ort-ceiling"'));
  if (line === undefined) throw new Error(`ort-ceiling child gave no result for ${options.modelFile}`);
  const { benchmark: _name, ...result } = JSON.parse(line) as OrtCeilingResult & { benchmark: string };
  return result;
}

export interface OrtProfile {
  batch: number;
  threads: number;
  runs: number;
  /** Mean wall time of a run() divided by the batch. */
  msPerImage: number;
  /** Kernel time per image by ONNX op type (onnxruntime's own profiler), largest first. */
  byOp: Record<string, number>;
}

/** Where one run() of the model spends its time, per image, at `batch` (one session, in a child process). */
export async function profileOrtOps(options: Omit<OrtCeilingOptions, 'workers' | 'seconds'>): Promise<OrtProfile> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--profile', '--model', options.modelFile, '--batch', String(options.batch), '--workers', '1'];
  if (options.threads !== undefined) args.push('--threads', String(options.threads));
  const line = (await runNodeScript(args)).find((l) => l.startsWith('{"benchmark":"ort-profile"'));
  if (line === undefined) throw new Error(`ort-ceiling --profile gave no result for ${options.modelFile}`);
  const { benchmark: _name, ...profile } = JSON.parse(line) as OrtProfile & { benchmark: string };
  return profile;
}

export interface GemmPeakResult {
  threads: number;
  /** [m, k] × [k, n] of the measured MatMul. */
  shape: [number, number, number];
  runs: number;
  gflops: number;
}

/** This machine's float32 GEMM rate in onnxruntime with `threads` intra-op threads (one session, in a child process). */
export async function measureGemmPeak(options: { threads: number; seconds: number }): Promise<GemmPeakResult> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--gemm-peak', '--threads', String(options.threads), '--seconds', String(options.seconds)];
  const line = (await runNodeScript(args)).find((l) => l.startsWith('{"benchmark":"gemm-peak"'));
  if (line === undefined) throw new Error('ort-ceiling --gemm-peak gave no result');
  const { benchmark: _name, ...result } = JSON.parse(line) as GemmPeakResult & { benchmark: string };
  return result;
}

/** Big enough that MLAS runs at full speed (packing and call overheads amortised), small enough to stay in cache-friendly blocks. */
const GEMM_SIZE = 512;

async function gemmPeak(threads: number, seconds: number): Promise<GemmPeakResult> {
  const graph = new OnnxGraphBuilder();
  const x = graph.addInput('x', 'float32', [GEMM_SIZE, GEMM_SIZE]);
  const weights = graph.addFloatInitializer('w', [GEMM_SIZE, GEMM_SIZE], Float32Array.from({ length: GEMM_SIZE * GEMM_SIZE }, (_v, i) => ((i * 7919) % 1000) / 1000 - 0.5));
  const y = graph.addNode('MatMul', [x, weights], 'y');
  graph.addOutput(y, 'float32', [GEMM_SIZE, GEMM_SIZE]);
  const { session } = await createNodeSession(graph.toBytes(), { device: 'cpu', intraOpNumThreads: threads, allowSpinning: false });
  const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: GEMM_SIZE * GEMM_SIZE }, (_v, i) => ((i * 104729) % 1000) / 1000 - 0.5), [GEMM_SIZE, GEMM_SIZE]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  let runs = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    await session.run(feeds);
    runs++;
  }
  const elapsed = (performance.now() - started) / 1000;
  await session.release();
  return { threads, shape: [GEMM_SIZE, GEMM_SIZE, GEMM_SIZE], runs, gflops: (2 * GEMM_SIZE ** 3 * runs) / elapsed / 1e9 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      batch: { type: 'string', default: '1' },
      workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
      threads: { type: 'string' },
      seconds: { type: 'string', default: '3' },
      profile: { type: 'boolean', default: false },
      'gemm-peak': { type: 'boolean', default: false },
    },
  });
  if (values['gemm-peak']) {
    const threads = Number(values.threads ?? 1);
    const seconds = Number(values.seconds);
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`'--threads' must be a positive integer, got ${values.threads}`);
    if (!(seconds > 0 && seconds <= 60)) throw new RangeError(`'--seconds' must be in (0, 60], got ${values.seconds}`);
    console.log(JSON.stringify({ benchmark: 'gemm-peak', ...(await gemmPeak(threads, seconds)) }));
    return;
  }
  if (values.model === undefined) throw new RangeError("'--model FILE' is required");
  const batch = Number(values.batch);
  const workers = Number(values.workers);
  const seconds = Number(values.seconds);
  const threads = values.threads === undefined ? Math.max(1, Math.floor(availableParallelism() / workers)) : Number(values.threads);
  for (const [flag, value] of [['batch', batch], ['workers', workers], ['threads', threads]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`'--${flag}' must be a positive integer, got ${value}`);
  }
  if (!(seconds > 0 && seconds <= 60)) throw new RangeError(`'--seconds' must be in (0, 60], got ${seconds}`);
  const setup: WorkerSetup = { bytes: readFileSync(values.model), batch, threads };
  if (values.profile) {
    console.log(JSON.stringify({ benchmark: 'ort-profile', ...(await profileOps(setup)) }));
    return;
  }

  const threadsReady = Array.from({ length: workers }, () => startWorker(setup));
  const started = await Promise.all(threadsReady);
  // Every session is created and warm before the clock starts; all stop at the same deadline.
  const deadline = Date.now() + seconds * 1000;
  const t = performance.now();
  const counts = await Promise.all(started.map((worker) => new Promise<number>((resolve) => {
    worker.once('message', (runs: number) => resolve(runs));
    worker.postMessage(deadline);
  })));
  const elapsed = (performance.now() - t) / 1000;
  await Promise.all(started.map((w) => w.terminate()));
  const runs = counts.reduce((a, b) => a + b, 0);
  const result: OrtCeilingResult = { batch, workers, threads, runs, seconds: elapsed, imagesPerSecond: (runs * batch) / elapsed };
  console.log(JSON.stringify({ benchmark: 'ort-ceiling', ...result }));
}

async function profileOps({ bytes, batch, threads }: WorkerSetup): Promise<OrtProfile> {
  const RUNS = 30;
  const manifest = readManifest(bytes, 'ort-ceiling model');
  const dir = mkdtempSync(join(tmpdir(), 'ganforge-ort-profile-'));
  try {
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all', intraOpNumThreads: threads, enableProfiling: true, profileFilePrefix: join(dir, 'profile'),
      extra: { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' },
    });
    const feeds: Record<string, ort.Tensor> = {
      [manifest.inputs.latent]: new ort.Tensor('float32', sampleLatents({ latentDim: manifest.latentDim, count: batch, seed: 1 }), [batch, manifest.latentDim]),
    };
    if (manifest.inputs.label !== null) feeds[manifest.inputs.label] = new ort.Tensor('int64', new BigInt64Array(batch), [batch]);
    for (let i = 0; i < 3; i++) await session.run(feeds); // warm-up runs are profiled too, so they are skipped below
    for (let i = 0; i < RUNS; i++) await session.run(feeds);
    session.endProfiling(); // writes <prefix>_<date>.json into dir (the node binding returns nothing)
    await session.release();
    // Chrome trace events: one 'model_run' per run() and one '<node>_kernel_time' per node execution.
    const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')) as { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } }[];
    const counted = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(-RUNS);
    const from = counted[0]!.ts;
    const byOp = new Map<string, number>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
      const op = e.args?.op_name ?? 'unknown';
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    }
    const perImage = (us: number) => us / 1000 / RUNS / batch;
    return {
      batch, threads, runs: RUNS,
      msPerImage: perImage(counted.reduce((a, e) => a + e.dur, 0)),
      byOp: Object.fromEntries([...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => [op, perImage(us)])),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A worker thread running this file; resolves once its session answered a warm-up run. */
function startWorker(setup: WorkerSetup): Promise<Worker> {
  // As in serve/inference-pool.ts: tsx 4 on Node 20 does not register its loader in workers, so the worker does.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const worker = new Worker(bootstrap, { eval: true, workerData: setup });
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
  });
}

async function workerMain(): Promise<void> {
  const { bytes, batch, threads } = workerData as WorkerSetup;
  const manifest = readManifest(bytes, 'ort-ceiling model');
  const { session } = await createNodeSession(bytes, { device: 'cpu', intraOpNumThreads: threads, allowSpinning: false });
  // Fresh latents each run, as each server batch brings; labels cycle through the classes.
  const latents = Array.from({ length: 8 }, (_v, i) => sampleLatents({ latentDim: manifest.latentDim, count: batch, seed: i + 1 }));
  const classes = manifest.classes?.length ?? 0;
  const labels = classes === 0 ? null : BigInt64Array.from({ length: batch }, (_v, i) => BigInt(i % classes));
  const run = async (i: number) => {
    const feeds: Record<string, ort.Tensor> = { [manifest.inputs.latent]: new ort.Tensor('float32', latents[i % latents.length]!, [batch, manifest.latentDim]) };
    if (labels !== null) feeds[manifest.inputs.label!] = new ort.Tensor('int64', labels, [batch]);
    const out = await session.run(feeds, [manifest.output]);
    // Read the output as the pool's worker does (it copies it out to transfer it).
    return Float32Array.from(out[manifest.output]!.data as Float32Array).length;
  };
  for (let i = 0; i < 3; i++) await run(i);
  parentPort!.once('message', (deadline: number) => {
    void (async () => {
      let runs = 0;
      while (Date.now() < deadline) await run(runs++);
      parentPort!.postMessage(runs);
    })();
  });
  parentPort!.postMessage('ready');
}

if (!isMainThread) await workerMain();
else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
