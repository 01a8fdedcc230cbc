// Does the wasm backend's threaded SIMD build (train/backend.ts wasmThreads) speed training up, and does it compute the
// same numbers? GAN steps (one D + one G update, batch 64) on 1 thread and on every core, in alternating rounds so both
// see the same machine load (printed with each row: on an oversubscribed machine a pool thread that is not scheduled
// makes the main thread wait at every kernel, and threads lose), then the weights after 3 seeded steps compared.
//   npx tsx bench/wasm-threads.ts [--families mlp,dcgan] [--seconds 5] [--rounds 3]

import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../train/backend.ts';
import { loadDataset } from '../train/dataset/registry.ts';
import { getFamily, resolveFamilyConfig } from '../train/models/registry.ts';
import { GanStepper } from '../train/gan-stepper.ts';
import { buildGanPair } from '../train/trainer.ts';

const { values } = parseArgs({ options: { families: { type: 'string', default: 'mlp,dcgan' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
const families = values.families.split(',');
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const batchSize = 64;
const threadCounts = [1, availableParallelism()];
const data = await loadDataset({ dataset: 'mnist', limit: batchSize * 8 });

/** Runs `steps` GAN steps (or about `seconds` after 2 warm-up steps when null); returns step times and final weights. */
function train(familyName: string, steps: number | null): { stepMs: number[]; weights: Float32Array[] } {
  const family = getFamily(familyName);
  const pair = buildGanPair(family, resolveFamilyConfig(family), { imageShape: [28, 28, 1], numClasses: null, latentDim: 100, seed: 0 });
  const stepper = new GanStepper({ ...pair, numClasses: null, latentDim: 100, loss: 'non-saturating', learningRateGenerator: 2e-4,
    learningRateDiscriminator: 2e-4, beta1: 0.5, seed: 0 });
  const batches = Array.from({ length: 8 }, (_, i) => tf.tensor4d(data.images.subarray(i * batchSize * 784, (i + 1) * batchSize * 784), [batchSize, 28, 28, 1]));
  const step = (i: number) => {
    stepper.trainDiscriminatorStep(batches[i % 8]!, null, 2 * i);
    stepper.trainGeneratorStep(batchSize, 2 * i + 1);
  };
  const stepMs: number[] = [];
  if (steps !== null) {
    for (let i = 0; i < steps; i++) step(i);
  } else {
    step(0);
    step(1);
    const start = performance.now();
    for (let i = 2; performance.now() - start < seconds * 1000 || stepMs.length < 3; i++) {
      const t = performance.now();
      step(i);
      stepMs.push(performance.now() - t);
    }
  }
  const weights = [...pair.generator.weights, ...pair.discriminator.weights].map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
  stepper.dispose();
  for (const b of batches) b.dispose();
  pair.generator.dispose();
  pair.discriminator.dispose();
  return { stepMs, weights };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`GAN steps/s (1 D + 1 G update, batch ${batchSize}) on wasm, 1 vs ${threadCounts[1]} threads, ${rounds} alternating rounds of ~${seconds} s`);
console.log('| family | threads | round | steps/s (median step) | best step | load (1 min) |');
console.log('|---|---:|---:|---:|---:|---:|');
const summary: string[] = [];
for (const familyName of families) {
  const medians = new Map<number, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const threads of threadCounts) {
      const selected = await selectBackend({ prefer: 'wasm', wasmThreads: threads });
      const load = loadavg()[0]!.toFixed(1);
      const { stepMs } = train(familyName, null);
      const perSecond = 1000 / median(stepMs);
      medians.set(selected.threads, [...(medians.get(selected.threads) ?? []), perSecond]);
      console.log(`| ${familyName} | ${selected.threads} | ${round} | ${perSecond.toFixed(2)} | ${Math.min(...stepMs).toFixed(0)} ms | ${load} |`);
    }
  }
  const weights: Float32Array[][] = [];
  for (const threads of threadCounts) {
    await selectBackend({ prefer: 'wasm', wasmThreads: threads });
    weights.push(train(familyName, 3).weights);
  }
  let maxDiff = 0;
  weights[0]!.forEach((w, i) => w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - weights[1]![i]![j]!)))));
  const [one, many] = [...medians.values()].map(median);
  summary.push(`${familyName}: ${many && one ? `${(many / one).toFixed(2)}× steps/s on ${threadCounts[1]} threads (median of rounds)` : 'only one thread count ran'}; ` +
    `weights after 3 steps ${maxDiff === 0 ? 'bit-identical' : `differ by up to ${maxDiff.toExponential(2)}`}`);
}
for (const line of summary) console.log(line);
