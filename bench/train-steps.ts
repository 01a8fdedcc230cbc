// Training speed of the MLP GAN at batch 64 on every tfjs backend that loads here, plus the wasm backend without our
// kernel fixes (the baseline, measured in the same run), so the fixes' effect is a measured ratio, not a claim.
//   npx tsx bench/train-steps.ts [--seconds 15] [--batch-size 64]

import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../train/backend.ts';
import { loadDataset } from '../train/dataset/registry.ts';
import { getFamily, resolveFamilyConfig } from '../train/models/registry.ts';
import { GanStepper, buildGanPair } from '../train/trainer.ts';
import { installWasmKernelFixes, uninstallWasmKernelFixes } from '../train/wasm-kernels.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, 'batch-size': { type: 'string', default: '64' } } });
const seconds = Number(values.seconds);
const batchSize = Number(values['batch-size']);
const data = await loadDataset({ dataset: 'mnist', limit: batchSize * 8 });

/** Steps/s of full GAN iterations (one D step + one G step) over about `seconds`, after 3 warm-up steps. */
function measure(): { stepsPerSecond: number; steps: number } {
  const family = getFamily('mlp');
  const pair = buildGanPair(family, resolveFamilyConfig(family), { imageShape: [28, 28, 1], numClasses: null, latentDim: 100, seed: 0 });
  const stepper = new GanStepper({ ...pair, numClasses: null, latentDim: 100, loss: 'non-saturating', learningRateGenerator: 2e-4,
    learningRateDiscriminator: 2e-4, beta1: 0.5, seed: 0 });
  const batches = Array.from({ length: 8 }, (_, i) => tf.tensor4d(data.images.subarray(i * batchSize * 784, (i + 1) * batchSize * 784), [batchSize, 28, 28, 1]));
  const step = (i: number) => {
    stepper.trainDiscriminatorStep(batches[i % 8]!, null, 2 * i);
    stepper.trainGeneratorStep(batchSize, 2 * i + 1);
  };
  for (let i = 0; i < 3; i++) step(i);
  const start = performance.now();
  let steps = 0;
  while (performance.now() - start < seconds * 1000 || steps < 3) step(3 + steps++);
  const elapsed = (performance.now() - start) / 1000;
  stepper.dispose();
  for (const b of batches) b.dispose();
  pair.generator.dispose();
  pair.discriminator.dispose();
  return { stepsPerSecond: steps / elapsed, steps };
}

const rows: { backend: string; stepsPerSecond: number; steps: number }[] = [];
const skipped: string[] = [];
for (const name of ['tensorflow', 'wasm', 'cpu'] as BackendName[]) {
  const selected = await selectBackend({ prefer: name });
  if (selected.name !== name) {
    skipped.push(`${name}: ${selected.skipped.find((s) => s.backend === name)?.reason ?? 'unavailable'}`);
    continue;
  }
  if (name === 'wasm') {
    rows.push({ backend: 'wasm (ganforge kernel fixes)', ...measure() });
    uninstallWasmKernelFixes();
    rows.push({ backend: 'wasm (stock kernels, baseline)', ...measure() });
    installWasmKernelFixes();
  } else {
    rows.push({ backend: name, ...measure() });
  }
}

console.log(`MLP GAN (G 100-256-512-1024-784, D 784-512-256-1), batch ${batchSize}, one D + one G update per step, ~${seconds} s per row`);
console.log('| backend | steps/s | steps timed |');
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.backend} | ${r.stepsPerSecond.toFixed(2)} | ${r.steps} |`);
const fixed = rows.find((r) => r.backend.startsWith('wasm (ganforge'));
const stock = rows.find((r) => r.backend.startsWith('wasm (stock'));
if (fixed && stock) console.log(`wasm speed-up from the kernel fixes: ${(fixed.stepsPerSecond / stock.stepsPerSecond).toFixed(2)}×`);
for (const s of skipped) console.log(`skipped ${s}`);
