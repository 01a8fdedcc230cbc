// What dynamic batching buys for an inference-bound generator: a DCGAN-style convolutional generator served by
// `ganforge serve` with batching on (default --max-batch) and off (--max-batch 1: one request per run()), same
// workers, n=1 requests from 8 and 32 closed-loop clients. Reports req/s, p50/p99, the mean batch formed and the
// ratio, PASS/FAIL against 3×. To explain the ratio it also measures, in-process, what onnxruntime-node itself gains
// from batching this model (images/s at batch 1 vs at the batch the server formed): no server can gain more.
//
//   node --import tsx bench/conv-batching.ts [--model FILE] [--seconds 5] [--concurrency 8,32] [--workers 2]
//                                            [--server-flags='--batch-delay-ms 2'] (both servers; --max-batch 1 still wins)
//
// Without --model it exports the TensorFlow DCGAN tutorial's generator (untrained, seeded weights; the cost of a
// run does not depend on the values): z 100 → Dense 7·7·256 → BN → LeakyReLU → ConvTranspose 5×5 128 → BN → LeakyReLU
// → ConvTranspose 5×5/2 64 → BN → LeakyReLU → ConvTranspose 5×5/2 1 tanh = 28×28×1, about 83 M multiply-adds an image.
//
// Why the 3× target is out of reach for such a model on CPU: onnxruntime's CPU ConvTranspose kernel
// (core/providers/cpu/nn/conv_transpose.cc) loops over the images of a batch and runs one GEMM + col2im per image,
// so its cost per image hardly falls with the batch; only the Dense layer (a GEMV reading 5 MB of weights per run at
// batch 1) and per-run overheads are amortised. The profiler line this benchmark prints shows the split.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { MANIFEST_FORMAT, type ModelManifest } from '../common/manifest.ts';
import { GANFORGE_VERSION } from '../common/version.ts';
import { exportGenerator } from '../export/export-generator.ts';
import { batchTotals, fetchText, meanBatchBetween, runClosedLoop, splitFlags, startGanforge, type NodeChild } from './load.ts';
import { measureOrtCeiling, profileOrtOps, type OrtProfile } from './ort-ceiling.ts';

const MAX_SECONDS_PER_POINT = 20;
const TARGET_RATIO = 3;

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8,32' },
    workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    'server-flags': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node --import tsx bench/conv-batching.ts [--model FILE] [--seconds 5] [--concurrency 8,32] [--workers N] [--server-flags=\'--batch-delay-ms 2 ...\']');
  process.exit(0);
}
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= MAX_SECONDS_PER_POINT)) throw new RangeError(`'--seconds' must be in (0, ${MAX_SECONDS_PER_POINT}], got ${values.seconds}`);
const concurrencies = values.concurrency.split(',').map(Number);
if (!concurrencies.every((c) => Number.isInteger(c) && c >= 1 && c <= 256)) throw new RangeError(`'--concurrency' must list integers in [1, 256], got ${values.concurrency}`);
const workers = Number(values.workers);

interface Point {
  mode: 'batching' | 'one per run()';
  concurrency: number;
  requests: number;
  errors: number;
  /** Responses other than 200, by status (0 = no response). */
  unexpected: Record<string, number>;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanBatch: number;
}

const dir = mkdtempSync(join(tmpdir(), 'ganforge-conv-'));
const servers: NodeChild[] = [];
try {
  const modelFile = join(dir, 'dcgan.onnx');
  if (values.model !== undefined) copyFileSync(resolve(values.model), modelFile);
  else writeFileSync(modelFile, await exportDcganGenerator());

  // Both servers stay up (an idle one costs no CPU: workers do not spin) so each pair of points is measured back to
  // back, which keeps load from other processes on a shared machine from favouring one mode.
  const modes = [['batching', undefined], ['one per run()', 1]] as const;
  for (const [, maxBatch] of modes) servers.push(await startGanforge(dir, { workers, maxBatch, extraFlags: splitFlags(values['server-flags']) }));
  const points: Point[] = [];
  for (const concurrency of concurrencies) {
    for (const [i, [mode]] of modes.entries()) {
      const url = servers[i]!.url;
      const before = batchTotals(await fetchText(`${url}/metrics`));
      const load = await runClosedLoop({ baseUrl: url, concurrency, seconds, next: (seq) => ({ path: `/generate?seed=${seq}`, expectStatus: 200 }) });
      const after = batchTotals(await fetchText(`${url}/metrics`));
      points.push({
        mode, concurrency, requests: load.requests, errors: load.unexpectedTotal, unexpected: load.unexpected, requestsPerSecond: load.requestsPerSecond,
        p50Ms: load.latency.p50Ms, p99Ms: load.latency.p99Ms, meanBatch: meanBatchBetween(before, after),
      });
    }
  }
  await Promise.all(servers.map((s) => s.stop()));

  // What onnxruntime-node gains from batching this model, with the servers' worker layout and no HTTP at all.
  const largestBatch = Math.max(1, ...points.filter((p) => p.mode === 'batching').map((p) => Math.round(p.meanBatch || 1)));
  const ortAtOne = await measureOrtCeiling({ modelFile, batch: 1, workers, seconds: Math.min(seconds, 5) });
  const ortBatched = await measureOrtCeiling({ modelFile, batch: largestBatch, workers, seconds: Math.min(seconds, 5) });
  // Where a run's time goes, per image, at both batch sizes (onnxruntime's profiler, one session, the workers' threads).
  const profiles = [await profileOrtOps({ modelFile, batch: 1, threads: ortAtOne.threads }), await profileOrtOps({ modelFile, batch: largestBatch, threads: ortAtOne.threads })] as const;

  console.log(`\n${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, Node ${process.version}, ${workers} workers (intra-op threads ${ortAtOne.threads} each), ${seconds} s per point, n=1 requests${values['server-flags'] === undefined ? '' : `, server flags '${values['server-flags']}'`}`);
  console.log('| server | concurrency | req/s | p50 ms | p99 ms | mean batch | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const p of points) {
    console.log(`| ${p.mode} | ${p.concurrency} | ${p.requestsPerSecond.toFixed(0)} | ${p.p50Ms.toFixed(1)} | ${p.p99Ms.toFixed(1)} | ${p.meanBatch.toFixed(2)} | ${p.errors}${p.errors > 0 ? ` ${JSON.stringify(p.unexpected)}` : ''} |`);
  }
  const ratios = concurrencies.map((concurrency) => {
    const batched = points.find((p) => p.mode === 'batching' && p.concurrency === concurrency)!;
    const single = points.find((p) => p.mode !== 'batching' && p.concurrency === concurrency)!;
    const ratio = batched.requestsPerSecond / single.requestsPerSecond;
    const pass = ratio >= TARGET_RATIO && batched.errors === 0 && single.errors === 0;
    console.log(`c=${concurrency}: batching ÷ one-per-run = ${batched.requestsPerSecond.toFixed(0)} ÷ ${single.requestsPerSecond.toFixed(0)} = ${ratio.toFixed(2)}× → ${pass ? 'PASS' : 'FAIL'} (needs ≥ ${TARGET_RATIO}×)`);
    return { concurrency, ratio, pass };
  });
  const ortGain = ortBatched.imagesPerSecond / ortAtOne.imagesPerSecond;
  console.log(
    `onnxruntime-node in-process (${workers} workers × ${ortAtOne.threads} threads, no HTTP): ${ortAtOne.imagesPerSecond.toFixed(0)} img/s at batch 1, ` +
      `${ortBatched.imagesPerSecond.toFixed(0)} img/s at batch ${ortBatched.batch}: batching gains ${ortGain.toFixed(2)}× in onnxruntime itself; ` +
      `a server's further gain is per-run overhead (worker round trip, dispatch) amortised over the batch.`,
  );
  const [atOne, batched] = profiles;
  const describe = (p: OrtProfile) => `${p.msPerImage.toFixed(2)} ms (${Object.entries(p.byOp).slice(0, 3).map(([op, ms]) => `${op} ${ms.toFixed(2)}`).join(', ')})`;
  const dominant = Object.keys(atOne.byOp)[0] ?? 'unknown';
  const floor = batched.byOp[dominant] ?? NaN;
  console.log(
    `per image, onnxruntime profiler: batch 1 ${describe(atOne)}; batch ${batched.batch} ${describe(batched)}. ` +
      `Even if everything but ${dominant} were free, batch ${batched.batch} could not beat ${(atOne.msPerImage / floor).toFixed(2)}× in onnxruntime here.`,
  );
  console.log(JSON.stringify({ benchmark: 'conv-batching', seconds, workers, serverFlags: values['server-flags'] ?? '', points, ratios, ort: { batch1: ortAtOne, batched: ortBatched, gain: ortGain, profiles } }));
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}

/** The TensorFlow DCGAN tutorial's MNIST generator, seeded, exported the way `ganforge export` does. */
async function exportDcganGenerator(): Promise<Uint8Array> {
  await tf.setBackend('cpu');
  let seed = 1;
  const init = () => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }) });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 7 * 7 * 256, inputShape: [100], useBias: false, ...init() }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.3 }),
      tf.layers.reshape({ targetShape: [7, 7, 256] }),
      tf.layers.conv2dTranspose({ filters: 128, kernelSize: 5, strides: 1, padding: 'same', useBias: false, ...init() }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.3 }),
      tf.layers.conv2dTranspose({ filters: 64, kernelSize: 5, strides: 2, padding: 'same', useBias: false, ...init() }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.3 }),
      tf.layers.conv2dTranspose({ filters: 1, kernelSize: 5, strides: 2, padding: 'same', useBias: false, activation: 'tanh', ...init() }),
    ],
  });
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT, family: 'dcgan', latentDim: 100, classes: null, imageShape: [28, 28, 1], valueRange: [-1, 1],
    inputs: { latent: 'z', label: null }, output: 'image', truncationModes: ['psi'],
    training: { dataset: 'none', steps: 0, epochs: 0, batchSize: 0, seed: 1, backend: 'cpu', loss: 'non-saturating' }, ganforgeVersion: GANFORGE_VERSION,
  };
  const bytes = exportGenerator(model, manifest);
  model.dispose();
  return bytes;
}
