#!/usr/bin/env node
// The `ganforge` command: dispatches to one subcommand module per pipeline stage. Only the cli/ files read argv.

import type { Subcommand } from './subcommand.ts';

const SUBCOMMANDS: Readonly<Record<string, () => Promise<Subcommand>>> = Object.freeze({
  train: async () => (await import('./train.ts')).trainCommand,
  export: async () => (await import('./export.ts')).exportCommand,
  serve: async () => (await import('./serve.ts')).serveCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  compare: async () => (await import('./compare.ts')).compareCommand,
  dashboard: async () => (await import('./dashboard.ts')).dashboardCommand,
});

function usage(): string {
  return [
    'usage: ganforge <command> [options]',
    '',
    'commands:',
    '  train    train a GAN on a dataset            ganforge train --family mlp --dataset mnist --out runs/mlp',
    '  export   export a run\'s generator to ONNX    ganforge export runs/mlp --out models/mlp.onnx',
    '  serve    serve a folder of .onnx generators  ganforge serve --models models --port 8080',
    '  eval     measure an MNIST generator          ganforge eval models/default.onnx --truncation 1,0.7',
    '  compare  several runs\' curves and grids      ganforge compare runs/sgd runs/adam --out compare.png',
    '  dashboard  live page of the runs in a folder   ganforge dashboard runs --port 8090',
    '',
    "'ganforge <command> --help' lists a command's options.",
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const load = SUBCOMMANDS[name];
  if (load === undefined) {
    console.error(`ganforge: unknown command '${name}'; valid commands: ${Object.keys(SUBCOMMANDS).join(', ')}\n\n${usage()}`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    const e = error as { code?: string; message?: string };
    console.error(`ganforge: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
    if (process.env.GANFORGE_DEBUG) console.error(error);
    process.exitCode = 1;
  },
);
