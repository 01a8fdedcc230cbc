// `ganforge compare runs/a runs/b …`: one picture (PNG and SVG) of several runs' curves on shared axes and their last
// sample grids side by side, for a README or a terminal that shows images.

import { parseArgs } from 'node:util';
import { InvalidParameterError } from '../common/errors.ts';
import { compareRuns } from '../train/report/compare.ts';
import type { Subcommand } from './subcommand.ts';

const HELP = `usage: ganforge compare <run> [<run> …] [options]

Draws the runs' curves (losses, D(x) and D(G(z)), gradient norms, Wasserstein estimate and eval metrics, whichever
the runs logged) on shared axes, colour = run, each run labelled by its folder name and the settings that differ
between the runs (loss, learning rates, …), and their last sample grids side by side, as one PNG and one SVG.

  --out PNG     output picture (default compare.png); the SVG is written beside it (compare.svg)
  -h, --help    this text`;

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new InvalidParameterError('run', `give at least one run folder\n\n${HELP}`);
  const result = await compareRuns({ runDirs: positionals, out: values.out ?? 'compare.png' });
  console.error(`compared ${result.labels.length} run${result.labels.length === 1 ? '' : 's'}: ${result.labels.join('; ')}`);
  console.error(`svg: ${result.svg}`);
  console.log(result.png);
  return 0;
}

export const compareCommand: Subcommand = { summary: "draw several runs' curves and last grids as one picture", run };
