// Training speed of the MLP GAN and the small DCGAN at batch 64 (one D update + one G update per step) on every tfjs
// backend that loads here — wasm with ganforge's kernel fixes on one thread and on all cores, stock wasm (the fixes
// removed, measured in the same run), tfjs-node when installed, cpu for the MLP — against PyTorch on the same CPU
// (bench/torch_reference.py, 1 and 2 threads) when `import torch` works. Also the achieved GFLOP/s (analytic count,
// bench/train-steps-report.ts) against the wasm matMul peak (1024³) measured in the same run.
//   npx tsx bench/train-steps.ts [--seconds 10] [--models mlp,dcgan] [--batch-size 64] [--no-torch] [--no-stock]

import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type SelectBackendOptions } from '../train/backend.ts';
import { loadDataset } from '../train/dataset/registry.ts';
import { GanStepper } from '../train/gan-stepper.ts';
import { installWasmKernelFixes, uninstallWasmKernelFixes } from '../train/wasm-kernels.ts';
import { BENCH_MODELS, LATENT_DIM, MODEL_DESCRIPTIONS, buildBenchPair, type BenchModel } from './reference-gans.ts';
import { formatStepTable, ganStepFlops, LAYER_MACS, parseTorchResult, ratioToTorch, type StepRow } from './train-steps-report.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    models: { type: 'string', default: BENCH_MODELS.join(',') },
    'batch-size': { type: 'string', default: '64' },
    'no-torch': { type: 'boolean', default: false },
    'no-stock': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const batchSize = Number(values['batch-size']);
if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number, got ${values.seconds}`);
if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`--batch-size must be a positive integer, got ${values['batch-size']}`);
const models = values.models.split(',').map((m) => m.trim()) as BenchModel[];
for (const m of models) {
  if (!(BENCH_MODELS as readonly string[]).includes(m)) throw new RangeError(`--models entries must be among ${BENCH_MODELS.join(', ')}, got '${m}'`);
}
const cores = availableParallelism();
const data = await loadDataset({ dataset: 'mnist', limit: batchSize * 8 });

/**
 * Steps/s over about `budget` seconds after warm-up (2 steps, 1 when a step takes over a quarter of the budget, as
 * stock wasm's DCGAN does); at least 2 timed steps, so a slow backend overruns its budget by at most two steps.
 */
function measure(model: BenchModel, budget: number): { stepsPerSecond: number; steps: number } {
  const pair = buildBenchPair(model);
  const stepper = new GanStepper({ ...pair, numClasses: null, latentDim: LATENT_DIM, loss: 'non-saturating', learningRateGenerator: 2e-4,
    learningRateDiscriminator: 2e-4, beta1: 0.5, seed: 0 });
  const batches = Array.from({ length: 8 }, (_, i) => tf.tensor4d(data.images.subarray(i * batchSize * 784, (i + 1) * batchSize * 784), [batchSize, 28, 28, 1]));
  const step = (i: number) => {
    stepper.trainDiscriminatorStep(batches[i % 8]!, null, 2 * i);
    stepper.trainGeneratorStep(batchSize, 2 * i + 1);
  };
  try {
    const first = performance.now();
    step(0);
    if (performance.now() - first < budget * 250) step(1);
    const start = performance.now();
    let steps = 0;
    while (performance.now() - start < budget * 1000 || steps < 2) step(2 + steps++);
    return { stepsPerSecond: steps / ((performance.now() - start) / 1000), steps };
  } finally {
    stepper.dispose();
    for (const b of batches) b.dispose();
    pair.generator.dispose();
    pair.discriminator.dispose();
  }
}

/** GFLOP/s of a 1024³ matMul on the current backend (best of 5 after 2 warm-ups): the compute roof for these steps. */
function matMulPeakGflops(): number {
  const n = 1024;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  let best = Infinity;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - t0;
    c.dispose();
    if (i >= 2) best = Math.min(best, ms);
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/** selectBackend with a wasm thread count, on a backend.ts that may or may not support one yet. */
async function select(prefer: 'tensorflow' | 'wasm' | 'cpu', wasmThreads?: number): Promise<{ name: string; threads: number; reason?: string; notes: string[] }> {
  const options = { prefer, ...(wasmThreads === undefined ? {} : { wasmThreads }) } as SelectBackendOptions;
  const selected = await selectBackend(options);
  const threads = (selected as { threads?: number }).threads ?? (prefer === 'tensorflow' ? cores : 1);
  const reason = selected.skipped.find((s) => s.backend === prefer)?.reason;
  return { name: selected.name, threads, notes: (selected as { notes?: string[] }).notes ?? [], ...(reason === undefined ? {} : { reason }) };
}

const rows: StepRow[] = [];
const peaks = new Map<number, number>();
const notes: string[] = [];
const row = (model: BenchModel, backend: string, threads: number, ganforge: boolean, budget = seconds) => {
  rows.push({ model, backend, threads, ganforge, ...measure(model, budget) });
  const r = rows.at(-1)!;
  console.error(`  ${model} ${backend} ×${threads}: ${r.stepsPerSecond.toFixed(2)} steps/s (${r.steps} steps)`);
};

const native = await select('tensorflow');
if (native.name === 'tensorflow') {
  for (const m of models) row(m, 'tfjs-node (TensorFlow C)', native.threads, true);
} else {
  notes.push(`skipped tfjs-node: ${native.reason ?? 'unavailable'}`);
}

// wasm on 1 thread, then on every core when the backend supports threads (an older backend.ts runs 1 either way).
for (const wanted of cores > 1 ? [1, cores] : [1]) {
  const wasm = await select('wasm', wanted);
  if (wasm.name !== 'wasm') {
    notes.push(`skipped wasm: ${wasm.reason ?? 'unavailable'}`);
    break;
  }
  if (wanted > 1 && wasm.threads === 1) {
    notes.push(`wasm ×${wanted} not measured: the backend runs 1 thread${wasm.notes.length ? ` (${wasm.notes.join('; ')})` : ''}`);
    break;
  }
  peaks.set(wasm.threads, matMulPeakGflops());
  installWasmKernelFixes();
  for (const m of models) row(m, 'wasm + ganforge kernels', wasm.threads, true);
  if (!values['no-stock']) {
    // Stock wasm has no Conv2DBackpropFilter at all, so its DCGAN row adds that one kernel (ours) and nothing else.
    // Its DCGAN takes seconds per step: a short budget keeps the run bounded (≥ 2 timed steps).
    for (const m of models) {
      uninstallWasmKernelFixes();
      if (m === 'dcgan') installWasmKernelFixes({ matMulTranspose: false, conv2dBackpropInput: false, tile: false, unsortedSegmentSum: false });
      row(m, m === 'dcgan' ? 'wasm, stock kernels + ganforge Conv2DBackpropFilter' : 'wasm, stock kernels', wasm.threads, false,
        m === 'dcgan' ? Math.min(seconds, 5) : seconds);
    }
    uninstallWasmKernelFixes();
    installWasmKernelFixes();
  }
}

const cpu = await select('cpu');
if (cpu.name === 'cpu' && models.includes('mlp')) row('mlp', 'cpu (plain JS)', 1, false, Math.min(seconds, 5));

/** The first Python that imports torch: PATH's python3 may be a pyenv one without Debian's python3-torch. */
function torchPython(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (probe.status === 0) return python;
  }
  return null;
}

if (!values['no-torch']) {
  const python = torchPython();
  if (python === null) {
    notes.push("skipped PyTorch: no python3 here imports torch (Debian: apt-get install python3-torch)");
  } else {
    const script = fileURLToPath(new URL('./torch_reference.py', import.meta.url));
    for (const m of models) {
      for (const threads of cores > 1 ? [1, 2] : [1]) {
        const t = String(threads);
        const run = spawnSync(python, [script, '--model', m, '--threads', t, '--seconds', String(seconds), '--batch-size', String(batchSize)], {
          encoding: 'utf8', timeout: (seconds * 3 + 120) * 1000,
          env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t },
        });
        if (run.status !== 0) {
          notes.push(`PyTorch ${m} ×${threads} failed (exit ${run.status ?? run.signal}): ${run.stderr.trim().split('\n').at(-1) ?? ''}`);
          continue;
        }
        const result = parseTorchResult(run.stdout);
        rows.push({ model: m, backend: `PyTorch ${result.torchVersion}`, threads, stepsPerSecond: result.stepsPerSecond, steps: result.steps, ganforge: false });
        console.error(`  ${m} PyTorch ×${threads}: ${result.stepsPerSecond.toFixed(2)} steps/s`);
      }
    }
  }
}

console.log(`Batch ${batchSize}, one D + one G update (Adam) per step, ~${seconds} s per row, ${cores} cores`);
for (const m of models) console.log(`- ${m}: ${MODEL_DESCRIPTIONS[m]}; ${(ganStepFlops(LAYER_MACS[m], batchSize) / 1e9).toFixed(2)} GFLOP a step`);
console.log(`wasm matMul 1024³ peak: ${[...peaks].map(([t, g]) => `${g.toFixed(1)} GFLOP/s on ${t} thread${t > 1 ? 's' : ''}`).join(', ') || 'not measured'}`);
console.log('');
console.log(formatStepTable(rows, batchSize, peaks));
console.log('');
for (const m of models) {
  const r = ratioToTorch(rows, m);
  if (r !== null) {
    console.log(`${m}: ganforge best (${r.ganforge.backend} ×${r.ganforge.threads}) / PyTorch best (×${r.torch.threads}) = ${r.ratio.toFixed(2)}`);
  }
  const fixed = rows.find((x) => x.model === m && x.backend.startsWith('wasm +') && x.threads === 1);
  const stock = rows.find((x) => x.model === m && x.backend.startsWith('wasm, stock') && x.threads === 1);
  if (fixed && stock) console.log(`${m}: wasm speed-up from the kernel fixes (1 thread): ${(fixed.stepsPerSecond / stock.stepsPerSecond).toFixed(2)}×`);
}
for (const n of notes) console.log(n);
