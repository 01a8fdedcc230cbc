// `ganforge eval <model.onnx>`: measures an exported MNIST generator with the cached judge classifier and prints one
// row per truncation setting (and --json for machines).

import { parseArgs } from 'node:util';
import { parseTruncation, parseTruncationMode } from '../common/truncation.ts';
import { parseInteger } from '../common/generate-params.ts';
import { InvalidParameterError } from '../common/errors.ts';
import { describeBackend, selectBackend } from '../train/backend.ts';
import { evaluateGenerator, type SampleMetrics } from '../eval/evaluate.ts';
import { writeStyleMixingGrid } from '../eval/style-mixing-grid.ts';
import { writeTruncationGrid } from '../eval/truncation-grid.ts';
import type { Subcommand } from './subcommand.ts';

const HELP = `usage: ganforge eval <model.onnx> [options]

Measures an MNIST generator: conditional accuracy (per class and overall), Fréchet distance on a judge classifier's
features against the 10k MNIST test images, class coverage, confidence (quality) and within-class spread (diversity).
The judge (a small CNN trained on the MNIST training split) ships with ganforge (eval/judge/).

  --truncation LIST      comma-separated truncation values in (0, 1] (default 1)
  --truncation-mode M    psi | resample (default psi)
  --samples-per-class N  generated samples per class (default 1000 → 10,000 per setting)
  --seed N               seed of the first sample batch (default 1000)
  --judge DIR            another judge folder (an empty one is trained into; default: the bundled judge)
  --grid PNG             also write a picture: one row per truncation setting, same latents in every row
  --mixing-grid PNG      style models only: write StyleGAN's style-mixing figure instead of measuring (top row: the
                         fine-style sources, left column: the coarse ones, cells: mixed), and exit
  --mix-from K           the first layer styled by the top row (default ⌊L/2⌋)
  --class C              the class of every mixing-grid image (default 0)
  --json                 print the report as JSON
  -h, --help             this text`;

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      truncation: { type: 'string' }, 'truncation-mode': { type: 'string' }, 'samples-per-class': { type: 'string' },
      seed: { type: 'string' }, judge: { type: 'string' }, grid: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      'mixing-grid': { type: 'string' }, 'mix-from': { type: 'string' }, class: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelPath = positionals[0];
  if (modelPath === undefined || positionals.length > 1) throw new InvalidParameterError('model', `give exactly one model path\n\n${HELP}`);
  const truncations = (values.truncation ?? '1').split(',').map((t) => parseTruncation(t.trim(), '--truncation'));
  if (values['mixing-grid'] !== undefined) {
    const grid = await writeStyleMixingGrid({
      modelPath, out: values['mixing-grid'], truncation: truncations[0]!,
      ...(values['mix-from'] === undefined ? {} : { mixFrom: parseInteger(values['mix-from'], '--mix-from', 0, 64) }),
      ...(values.class === undefined ? {} : { label: parseInteger(values.class, '--class', 0, 1_000_000) }),
    });
    console.error(`wrote ${values['mixing-grid']} (${grid.width}×${grid.height}): layers ${grid.mixFrom}…${grid.layers - 1} of ${grid.layers} styled by the top row`);
    return 0;
  }
  const backend = await selectBackend();
  const log = (line: string) => console.error(line);
  log(describeBackend(backend));
  const report = await evaluateGenerator({
    modelPath,
    truncations,
    truncationMode: parseTruncationMode(values['truncation-mode'] ?? 'psi', '--truncation-mode'),
    samplesPerClass: values['samples-per-class'] === undefined ? 1000 : parseInteger(values['samples-per-class'], '--samples-per-class', 10, 100_000),
    seed: values.seed === undefined ? 1000 : parseInteger(values.seed, '--seed', 0, 2 ** 31),
    classifier: { ...(values.judge === undefined ? {} : { dir: values.judge }), log },
  });
  if (values.grid !== undefined) {
    const size = await writeTruncationGrid({ modelPath, truncations, truncationMode: parseTruncationMode(values['truncation-mode'] ?? 'psi', '--truncation-mode'), out: values.grid });
    log(`wrote ${values.grid} (${size.width}×${size.height}): rows = truncation ${truncations.join(', ')}`);
  }
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  console.log(`${report.model} (${report.family})`);
  console.log(report.protocol);
  console.log(formatTable([{ ...report.reference, label: 'MNIST test' }, ...report.results.map((r) => ({ ...r, label: `truncation ${r.truncation}` }))]));
  const conditional = report.results.filter((r) => r.perClassAccuracy !== null);
  for (const r of conditional) {
    console.log(`per-class accuracy @ ${r.truncation}: ${r.perClassAccuracy!.map((a, c) => `${c}:${(a * 100).toFixed(1)}`).join(' ')}`);
  }
  return 0;
}

function formatTable(rows: (SampleMetrics & { label: string })[]): string {
  const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(2)}%`);
  const header = '| setting | cond. accuracy | Fréchet dist. | coverage | confidence | diversity |\n|---|---:|---:|---:|---:|---:|';
  return [header, ...rows.map((r) => `| ${r.label} | ${pct(r.conditionalAccuracy)} | ${r.frechetDistance.toFixed(2)} | ${r.classCoverage.toFixed(3)} | ${r.meanConfidence.toFixed(3)} | ${r.diversity.toFixed(2)} |`)].join('\n');
}

export const evalCommand: Subcommand = { summary: 'measure an MNIST generator (accuracy, Fréchet distance, coverage)', run };
