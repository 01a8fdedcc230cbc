// The README's results table for issue 12: every family and training option on MNIST at one fixed step budget, each
// trained, exported and judged by the real commands a user runs (`ganforge train`, `ganforge export`, `ganforge eval
// --json`), so every row can be reproduced from its printed command line.
//
//   npx tsx bench/options-table.ts [--steps 600] [--only mlp,wgan-gp] [--out bench/results/options-table.json]
//
// Writes the JSON (rows with their commands, steps/s, eval metrics, load average at the time) and one sample grid per
// row under docs/options/, then prints the Markdown table. Rows are independent: one that fails is reported with its
// error and the others go on.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

interface Row {
  name: string;
  /** What the row shows, for the table. */
  label: string;
  /** `ganforge train` arguments besides --dataset/--steps/--out. */
  train: string[];
}

const ROWS: Row[] = [
  { name: 'mlp', label: 'mlp, non-saturating (baseline)', train: ['--family', 'mlp'] },
  { name: 'mlp-minimax', label: 'mlp, minimax loss', train: ['--family', 'mlp', '--loss', 'minimax'] },
  { name: 'mlp-hinge', label: 'mlp, hinge loss', train: ['--family', 'mlp', '--loss', 'hinge'] },
  { name: 'mlp-wgan', label: 'mlp, WGAN (clip 0.01, RMSProp, 5 critic steps)', train: ['--family', 'mlp', '--preset', 'wgan'] },
  { name: 'mlp-wgan-gp', label: 'mlp, WGAN-GP (λ 10, Adam (0, 0.9), 5 critic steps)', train: ['--family', 'mlp', '--preset', 'wgan-gp'] },
  { name: 'mlp-smooth', label: 'mlp, one-sided label smoothing 0.1', train: ['--family', 'mlp', '--label-smoothing', '0.1'] },
  { name: 'mlp-ema', label: 'mlp, generator EMA 0.999', train: ['--family', 'mlp', '--ema', '0.999'] },
  { name: 'mlp-mbstd', label: 'mlp, minibatch stddev in D', train: ['--family', 'mlp', '--set', 'minibatchStddev=true'] },
  { name: 'mlp-sn', label: 'mlp, spectral norm in D', train: ['--family', 'mlp', '--set', 'spectralNorm=true'] },
  { name: 'mlp-sngan', label: 'mlp, SN-GAN (spectral norm, hinge loss, Adam (0.5, 0.999))', train: ['--family', 'mlp', '--preset', 'sngan'] },
  { name: 'mlp-sgd', label: 'mlp, SGD lr 0.01 (optimizer comparison)', train: ['--family', 'mlp', '--optimizer', 'sgd', '--lr-g', '0.01', '--lr-d', '0.01'] },
  { name: 'mlp-rmsprop', label: 'mlp, RMSProp lr 2e-4 (optimizer comparison)', train: ['--family', 'mlp', '--optimizer', 'rmsprop'] },
  { name: 'cgan', label: 'cgan (conditional MLP)', train: ['--family', 'cgan'] },
  { name: 'acgan', label: 'acgan (auxiliary classifier)', train: ['--family', 'acgan'] },
  { name: 'dcgan', label: 'dcgan', train: ['--family', 'dcgan'] },
  { name: 'dcgan-wgan-gp', label: 'dcgan, WGAN-GP (LayerNorm critic)', train: ['--family', 'dcgan', '--preset', 'wgan-gp'] },
  { name: 'cdcgan', label: 'cdcgan (conditional DCGAN)', train: ['--family', 'cdcgan'] },
  { name: 'stylegan-lite', label: 'stylegan-lite', train: ['--family', 'stylegan-lite'] },
  { name: 'cstylegan-lite', label: 'cstylegan-lite (conditional)', train: ['--family', 'cstylegan-lite'] },
  { name: 'vae', label: 'vae (for comparison: not a GAN)', train: ['--family', 'vae'] },
  { name: 'cvae', label: 'cvae (conditional VAE)', train: ['--family', 'cvae'] },
];

interface Result {
  name: string;
  label: string;
  command: string;
  steps: number;
  stepsPerSecond: number | null;
  backend: string | null;
  loadAverage: number;
  conditionalAccuracy: number | null;
  frechetDistance: number | null;
  classCoverage: number | null;
  diversity: number | null;
  grid: string | null;
  error: string | null;
  seconds: number;
}

const { values } = parseArgs({
  options: { steps: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' }, 'samples-per-class': { type: 'string' } },
});
const steps = Number(values.steps ?? 600);
const only = values.only?.split(',');
const outPath = values.out ?? 'bench/results/options-table.json';
const samplesPerClass = values['samples-per-class'] ?? '500';
const runsDir = 'runs/options-table';
const previous: Result[] = existsSync(outPath) ? (JSON.parse(readFileSync(outPath, 'utf8')) as { rows: Result[] }).rows : [];

const ganforge = (args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });

const results: Result[] = [...previous];
for (const row of ROWS) {
  if (only && !only.includes(row.name)) continue;
  const out = join(runsDir, row.name);
  const trainArgs = ['train', ...row.train, '--dataset', 'mnist', '--steps', String(steps), '--out', out, '--seed', '1'];
  const started = performance.now();
  const load = loadavg()[0]!;
  let result: Result = {
    name: row.name, label: row.label, command: `npx ganforge ${trainArgs.join(' ')}`, steps, stepsPerSecond: null, backend: null, loadAverage: load,
    conditionalAccuracy: null, frechetDistance: null, classCoverage: null, diversity: null, grid: null, error: null, seconds: 0,
  };
  try {
    ganforge(trainArgs);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stepsPerSecond: number; backend: string; lastGrid: string | null };
    const model = join(out, `${row.name}.onnx`);
    ganforge(['export', out, '--out', model]);
    const report = JSON.parse(ganforge(['eval', model, '--json', '--samples-per-class', samplesPerClass])) as { results: { conditionalAccuracy: number | null; frechetDistance: number; classCoverage: number; diversity: number }[] };
    const r = report.results[0]!;
    let grid: string | null = null;
    if (summary.lastGrid) {
      grid = join('docs', 'options', `${row.name}.png`);
      mkdirSync(dirname(grid), { recursive: true });
      copyFileSync(summary.lastGrid, grid);
    }
    result = { ...result, stepsPerSecond: summary.stepsPerSecond, backend: summary.backend, conditionalAccuracy: r.conditionalAccuracy, frechetDistance: r.frechetDistance, classCoverage: r.classCoverage, diversity: r.diversity, grid };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    result.error = (e.stderr ?? e.message).trim().split('\n').filter((l) => !l.startsWith('epoch ')).slice(-3).join(' ').slice(0, 400);
  }
  result.seconds = Math.round((performance.now() - started) / 1000);
  const index = results.findIndex((r) => r.name === row.name);
  if (index >= 0) results[index] = result;
  else results.push(result);
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify({ steps, samplesPerClass: Number(samplesPerClass), date: new Date().toISOString(), rows: results }, null, 2)}\n`);
  console.error(`${row.name}: ${result.error ?? `FD ${result.frechetDistance?.toFixed(1)} in ${result.seconds} s`}`);
}

const order = (name: string) => ROWS.findIndex((r) => r.name === name);
const fmt = (v: number | null, digits: number, scale = 1) => (v === null ? '—' : (v * scale).toFixed(digits));
console.log('| row | steps/s | cond. acc. % | Fréchet ↓ | coverage | diversity | grid |');
console.log('|---|---:|---:|---:|---:|---:|---|');
for (const r of [...results].sort((a, b) => order(a.name) - order(b.name))) {
  if (r.error) { console.log(`| ${r.label} | — | — | — | — | — | failed: ${r.error.replace(/\|/g, '\\|')} |`); continue; }
  console.log(`| ${r.label} | ${fmt(r.stepsPerSecond, 2)} | ${fmt(r.conditionalAccuracy, 1, 100)} | ${fmt(r.frechetDistance, 1)} | ${fmt(r.classCoverage, 3)} | ${fmt(r.diversity, 2)} | ${r.grid ? `[grid](${r.grid})` : '—'} |`);
}
