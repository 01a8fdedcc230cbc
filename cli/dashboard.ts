// `ganforge dashboard runs/`: serves the live training dashboard for a folder of runs until Ctrl-C.

import { parseArgs } from 'node:util';
import { InvalidParameterError } from '../common/errors.ts';
import { parseInteger } from '../common/generate-params.ts';
import { startDashboard } from '../train/dashboard/server.ts';
import type { Subcommand } from './subcommand.ts';

const HELP = `usage: ganforge dashboard [<runs folder>] [options]

Serves a page listing the runs in the folder (default runs/; a single run folder works too): each run's curves
updating live while it trains, its config and backend, the latest sample grid, an animation of the grids over time,
and a stop-and-save button for runs that are training (it sends the trainer SIGINT: a checkpoint, then exit).
Finished runs are shown the same way.

  --port N       port (default 8090; 0 picks a free one)
  --host ADDR    interface (default 127.0.0.1; the stop button signals processes, so think twice before 0.0.0.0)
  -h, --help     this text`;

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) throw new InvalidParameterError('runs', `give one folder of runs, got ${positionals.length}\n\n${HELP}`);
  const runsDir = positionals[0] ?? 'runs';
  const port = values.port === undefined ? 8090 : parseInteger(values.port, '--port', 0, 65535);
  const dashboard = await startDashboard({ runsDir, port, host: values.host ?? '127.0.0.1' });
  console.error(`dashboard for ${runsDir}: ${dashboard.url}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await dashboard.close();
  return 0;
}

export const dashboardCommand: Subcommand = { summary: 'live page of the training runs in a folder', run };
