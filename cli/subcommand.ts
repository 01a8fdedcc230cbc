// The contract between cli/main.ts and each subcommand module.

export interface Subcommand {
  /** One line for `ganforge --help`. */
  summary: string;
  /** Parses `args` (argv after the command name) and runs; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}
