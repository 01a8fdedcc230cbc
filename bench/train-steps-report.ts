// Pure helpers of the training-speed benchmark (bench/train-steps.ts): the analytic FLOP count of one GAN step, the
// parsing of bench/torch_reference.py's result line and the markdown table. Kept apart so they are tested without
// training anything.

import type { BenchModel } from './reference-gans.ts';

/**
 * Forward multiply-accumulates per sample of each weighted layer, in forward order (bias, BatchNorm and activations
 * are left out: they are O(activations), under 1% here). Conv: output pixels × KH·KW·Cin·Cout; a transposed conv
 * the same counted on its input pixels.
 */
export const LAYER_MACS: Readonly<Record<BenchModel, { generator: number[]; discriminator: number[] }>> = Object.freeze({
  mlp: {
    generator: [100 * 256, 256 * 512, 512 * 1024, 1024 * 784],
    discriminator: [784 * 512, 512 * 256, 256 * 1],
  },
  dcgan: {
    generator: [100 * 7 * 7 * 128, 7 * 7 * 4 * 4 * 128 * 64, 14 * 14 * 4 * 4 * 64 * 1],
    discriminator: [14 * 14 * 4 * 4 * 1 * 64, 7 * 7 * 4 * 4 * 64 * 128, 7 * 7 * 128],
  },
});

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * FLOPs (2 per MAC) of one benchmark step (one D update, then one G update) at batch `batch`, counting what the step
 * must compute and nothing a framework may skip:
 *  - D update: G forward on B (no gradient), D forward on 2B (real + fake), D backward on 2B: every layer's weight
 *    gradient (= its forward MACs) and every layer's input gradient but the first's (the images need none).
 *  - G update: G forward on B, D forward on B, D input gradients through every layer (no D weight gradients: D is not
 *    updated), G weight gradients for every layer and input gradients for all but the first (z needs none).
 * So a trained network costs forward + 2× forward (the usual "≈ 3× forward"), less its first layer's input gradient.
 */
export function ganStepFlops(layers: { generator: number[]; discriminator: number[] }, batch: number): number {
  const g = sum(layers.generator);
  const d = sum(layers.discriminator);
  const gDx = g - (layers.generator[0] ?? 0);
  const dDx = d - (layers.discriminator[0] ?? 0);
  const dStep = batch * g + 2 * batch * (d + d + dDx);
  const gStep = batch * (g + d + d + g + gDx);
  return 2 * (dStep + gStep);
}

/** What bench/torch_reference.py prints as its last line (one JSON object). */
export interface TorchResult {
  model: BenchModel;
  threads: number;
  stepsPerSecond: number;
  steps: number;
  torchVersion: string;
}

/** Parses the reference script's output: the last line that is a JSON object; throws naming what was wrong. */
export function parseTorchResult(stdout: string): TorchResult {
  const line = stdout.trim().split('\n').reverse().find((l) => l.trimStart().startsWith('{'));
  if (line === undefined) throw new Error(`torch_reference.py printed no JSON result line, got: ${JSON.stringify(stdout.slice(-200))}`);
  const raw = JSON.parse(line) as Record<string, unknown>;
  const number = (key: string): number => {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`torch_reference.py result '${key}' must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (raw.model !== 'mlp' && raw.model !== 'dcgan') throw new RangeError(`torch_reference.py result 'model' must be mlp or dcgan, got ${JSON.stringify(raw.model)}`);
  return { model: raw.model, threads: number('threads'), stepsPerSecond: number('steps_per_second'), steps: number('steps'),
    torchVersion: typeof raw.torch_version === 'string' ? raw.torch_version : 'unknown' };
}

/** One measured configuration. */
export interface StepRow {
  model: BenchModel;
  /** e.g. 'wasm + ganforge kernels', 'PyTorch 1.13 (OpenBLAS)'. */
  backend: string;
  threads: number;
  stepsPerSecond: number;
  steps: number;
  /** ganforge's own rows (counted for the ganforge/PyTorch ratio). */
  ganforge: boolean;
}

/** The markdown table, with achieved GFLOP/s and its share of the wasm matMul peak at the same thread count. */
export function formatStepTable(rows: StepRow[], batch: number, peakGflops: ReadonlyMap<number, number>): string {
  const lines = ['| model | backend | threads | steps/s | GFLOP/s | % of wasm matMul peak | steps timed |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const gflops = (ganStepFlops(LAYER_MACS[r.model], batch) * r.stepsPerSecond) / 1e9;
    const peak = peakGflops.get(r.threads);
    const share = peak === undefined ? '–' : `${((100 * gflops) / peak).toFixed(0)}%`;
    lines.push(`| ${r.model} | ${r.backend} | ${r.threads} | ${r.stepsPerSecond.toFixed(2)} | ${gflops.toFixed(1)} | ${share} | ${r.steps} |`);
  }
  return lines.join('\n');
}

/** Per model: the best ganforge row over the best PyTorch row (null when either is missing). */
export function ratioToTorch(rows: StepRow[], model: BenchModel): { ganforge: StepRow; torch: StepRow; ratio: number } | null {
  const best = (xs: StepRow[]) => xs.reduce<StepRow | null>((a, r) => (a === null || r.stepsPerSecond > a.stepsPerSecond ? r : a), null);
  const ganforge = best(rows.filter((r) => r.model === model && r.ganforge));
  const torch = best(rows.filter((r) => r.model === model && r.backend.startsWith('PyTorch')));
  if (ganforge === null || torch === null) return null;
  return { ganforge, torch, ratio: ganforge.stepsPerSecond / torch.stepsPerSecond };
}
