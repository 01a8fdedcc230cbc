// Where a GAN training step's time goes on wasm: tf.profile() over a few steps of the benchmark models, summed per
// kernel and per kernel + input shapes. Wall times per kernel (tfjs times them), so run it on a quiet machine.
// Nested kernels are listed too: a wrapper op (fusedMatMul__op) includes the kernel it runs (_FusedMatMul).
//   npx tsx bench/train-profile.ts [--model mlp|dcgan] [--threads 1] [--stock] [--steps 3]

import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../train/backend.ts';
import { GanStepper } from '../train/gan-stepper.ts';
import { uninstallWasmKernelFixes } from '../train/wasm-kernels.ts';
import { BENCH_MODELS, LATENT_DIM, buildBenchPair, type BenchModel } from './reference-gans.ts';

const { values } = parseArgs({ options: {
  model: { type: 'string', default: 'mlp' }, threads: { type: 'string', default: '1' }, stock: { type: 'boolean', default: false },
  steps: { type: 'string', default: '3' },
} });
const model = values.model as BenchModel;
if (!(BENCH_MODELS as readonly string[]).includes(model)) throw new RangeError(`--model must be one of ${BENCH_MODELS.join(', ')}, got '${values.model}'`);
const runs = Number(values.steps);
if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--steps must be a positive integer, got ${values.steps}`);
await selectBackend({ prefer: 'wasm', wasmThreads: Number(values.threads) });
if (values.stock) uninstallWasmKernelFixes();
const pair = buildBenchPair(model);
const stepper = new GanStepper({ ...pair, numClasses: null, latentDim: LATENT_DIM, loss: 'non-saturating', learningRateGenerator: 2e-4,
  learningRateDiscriminator: 2e-4, beta1: 0.5, seed: 0 });
const real = tf.randomUniform<tf.Rank.R4>([64, 28, 28, 1], -1, 1);
const step = (i: number) => {
  stepper.trainDiscriminatorStep(real, null, 2 * i);
  stepper.trainGeneratorStep(64, 2 * i + 1);
};
for (let i = 0; i < 2; i++) step(i);
const t0 = performance.now();
for (let i = 0; i < runs; i++) step(2 + i);
const ms = (performance.now() - t0) / runs;
console.log(`${model} on wasm ×${values.threads}${values.stock ? ' (stock kernels)' : ''}: ${ms.toFixed(1)} ms a step unprofiled`);
const byShape = new Map<string, { ms: number; n: number }>();
for (let r = 0; r < runs; r++) {
  const info = await tf.profile(() => { step(100 + r); });
  for (const k of info.kernels) {
    const key = `${k.name} ${k.inputShapes.map((s) => JSON.stringify(s)).join(' ')}`;
    const a = byShape.get(key) ?? { ms: 0, n: 0 };
    a.ms += (k.kernelTimeMs as number) / runs;
    a.n += 1 / runs;
    byShape.set(key, a);
  }
}
const byName = new Map<string, number>();
for (const [k, v] of byShape) byName.set(k.split(' ')[0]!, (byName.get(k.split(' ')[0]!) ?? 0) + v.ms);
console.log('per kernel (ms a step):');
for (const [k, v] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${k.padEnd(24)} ${v.toFixed(2)}`);
console.log('per kernel and input shapes (ms a step, calls a step):');
for (const [k, v] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) console.log(`  ${v.ms.toFixed(2).padStart(7)} ×${v.n.toFixed(0)} ${k}`);
stepper.dispose();
