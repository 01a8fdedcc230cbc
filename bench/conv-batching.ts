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
// → ConvTranspose 5×5/2 64 → BN → LeakyReLU → ConvTranspose 5×5/2 1 tanh = 28×28×1, 51.7 M multiply-adds an image.
//
// Why the 3× target is out of reach for such a model on CPU: batching can only raise the efficiency of the kernels,
// and at batch 1 onnxruntime already runs this generator at half to two thirds of what one core's GEMM can do at best
// (the benchmark measures both: bench/ort-ceiling.ts --gemm-peak, and the generator's FLOPs over its batch-1 time),
// so no batch size can gain more than peak ÷ batch-1 rate, 1.5-2.1× in runs here. onnxruntime's CPU ConvTranspose kernel
// (core/providers/cpu/nn/conv_transpose.cc) also loops over the images of a batch, one GEMM + col2im per image; only
// the Dense layer (a GEMV reading 5 MB of weights per run at batch 1) and per-run overheads are amortised. A GPU,
// where one image leaves most of the device idle, is where 3× is possible.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { MANIFEST_FORMAT, type ModelManifest } from '../common/manifest.ts';
import { GANFORGE_VERSION } from '../common/version.ts';
import { exportGenerator } from '../export/export-generator.ts';
import { batchTotals, fetchText, meanBatchBetween, parseConcurrencies, runClosedLoop, splitFlags, startGanforge, type NodeChild } from './load.ts';
import { measureGemmPeak, measureOrtCeiling, profileOrtOps, type OrtProfile } from './ort-ceiling.ts';

const MAX_SECONDS_PER_POINT = 20;
const TARGET_RATIO = 3;
const LARGE_BATCH = 64;

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
const concurrencies = parseConcurrencies(values.concurrency);
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
  /** Multiply-adds per image, known for the built-in generator only. */
  let macsPerImage: number | undefined;
  if (values.model !== undefined) copyFileSync(resolve(values.model), modelFile);
  else {
    const dcgan = await exportDcganGenerator();
    writeFileSync(modelFile, dcgan.bytes);
    macsPerImage = dcgan.macsPerImage;
  }

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
  // The asymptote: what onnxruntime gains at a batch far larger than any the server formed.
  const ortLarge = await measureOrtCeiling({ modelFile, batch: LARGE_BATCH, workers, seconds: Math.min(seconds, 5) });
  const gemm = await measureGemmPeak({ threads: ortAtOne.threads, seconds: Math.min(seconds, 3) });
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
  console.log(`at batch ${LARGE_BATCH}: ${ortLarge.imagesPerSecond.toFixed(0)} img/s, ${(ortLarge.imagesPerSecond / ortAtOne.imagesPerSecond).toFixed(2)}× batch 1.`);
  const [atOne, batched] = profiles;
  let bound: { gflopsAtOne: number; efficiency: number; maxGain: number } | undefined;
  if (macsPerImage !== undefined) {
    // The profiled session runs alone with the workers' intra-op threads, like the GEMM peak: a like-for-like rate.
    const gflopsAtOne = (2 * macsPerImage) / (atOne.msPerImage / 1000) / 1e9;
    bound = { gflopsAtOne, efficiency: gflopsAtOne / gemm.gflops, maxGain: gemm.gflops / gflopsAtOne };
    console.log(
      `compute bound: ${(macsPerImage / 1e6).toFixed(1)} M multiply-adds an image; at batch 1 one session runs them at ${gflopsAtOne.toFixed(1)} GFLOP/s, ` +
        `${(bound.efficiency * 100).toFixed(0)}% of this machine's GEMM peak in onnxruntime (${gemm.gflops.toFixed(1)} GFLOP/s, ${gemm.shape.join('×')} MatMul, ${gemm.threads} thread${gemm.threads === 1 ? '' : 's'}): ` +
        `no batching can gain more than ${bound.maxGain.toFixed(2)}× on this CPU.`,
    );
  }
  const describe = (p: OrtProfile) => `${p.msPerImage.toFixed(2)} ms (${Object.entries(p.byOp).slice(0, 3).map(([op, ms]) => `${op} ${ms.toFixed(2)}`).join(', ')})`;
  const dominant = Object.keys(atOne.byOp)[0] ?? 'unknown';
  const floor = batched.byOp[dominant] ?? NaN;
  console.log(
    `per image, onnxruntime profiler: batch 1 ${describe(atOne)}; batch ${batched.batch} ${describe(batched)}. ` +
      `Even if everything but ${dominant} were free, batch ${batched.batch} could not beat ${(atOne.msPerImage / floor).toFixed(2)}× in onnxruntime here.`,
  );
  console.log(JSON.stringify({ benchmark: 'conv-batching', seconds, workers, serverFlags: values['server-flags'] ?? '', points, ratios, ort: { batch1: ortAtOne, batched: ortBatched, large: ortLarge, gain: ortGain, profiles }, gemmPeak: gemm, macsPerImage: macsPerImage ?? null, bound: bound ?? null }));
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}

/** The TensorFlow DCGAN tutorial's MNIST generator, seeded, exported the way `ganforge export` does, and its multiply-adds per image. */
async function exportDcganGenerator(): Promise<{ bytes: Uint8Array; macsPerImage: number }> {
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
  const macsPerImage = countMultiplyAdds(model);
  model.dispose();
  return { bytes, macsPerImage };
}

/**
 * Multiply-adds of one image through the Dense and Conv2DTranspose layers (the rest is elementwise, well under 1%). A
 * transposed convolution scatters every input pixel through its k×k×Cin×Cout kernel, which is also the GEMM onnxruntime
 * runs for it (Cout·k·k × Cin times Cin × H·W, then col2im).
 */
function countMultiplyAdds(model: tf.Sequential): number {
  let macs = 0;
  for (const layer of model.layers) {
    const input = (Array.isArray(layer.input) ? layer.input[0]! : layer.input).shape;
    const config = layer.getConfig();
    if (layer.getClassName() === 'Dense') macs += input[1]! * (config.units as number);
    if (layer.getClassName() === 'Conv2DTranspose') {
      const [height, width, channels] = [input[1]!, input[2]!, input[3]!];
      const [kh, kw] = config.kernelSize as [number, number];
      macs += height * width * channels * (config.filters as number) * kh * kw;
    }
  }
  return macs;
}
