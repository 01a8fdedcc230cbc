// Runs every test/**/*.test.ts (or the files/folders given) with node's built-in test runner under tsx.
// Node 20's --test does not expand globs itself, so the file list is collected here.
//
// Two limits turn a hang into a named failure well inside CI's budget instead of a run that never ends: each test
// may take at most TEST_TIMEOUT_MS (the slowest, a resume-equality training, takes ~4 min on a loaded 2-core machine),
// and the whole run at most RUN_TIMEOUT_MS (a hook that never returns, which --test-timeout does not cover).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';

const TEST_TIMEOUT_MS = 10 * 60_000;
const RUN_TIMEOUT_MS = Number(process.env.GANFORGE_TEST_RUN_TIMEOUT_MS ?? 45 * 60_000);

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((entry) => collect(join(path, entry)));
}

const targets = process.argv.slice(2);
const files = (targets.length ? targets : ['test']).flatMap(collect);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { stdio: 'inherit', detached: true });
// The runner has a process group of its own (detached) so that the watchdog can stop the per-file processes it spawned
// too; Ctrl-C and SIGTERM, which reach only this process then, are passed on to the whole group.
const killGroup = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => killGroup(signal));
const watchdog = setTimeout(() => {
  console.error(`run-tests: the test run exceeded ${RUN_TIMEOUT_MS / 60_000} min and was stopped; the last file reported above is the one that hung`);
  killGroup('SIGKILL');
  process.exit(1);
}, RUN_TIMEOUT_MS);
child.on('exit', (code) => {
  clearTimeout(watchdog);
  process.exit(code ?? 1); // killed by a signal: a failure
});
