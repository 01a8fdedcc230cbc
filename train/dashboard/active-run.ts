// The stop-and-save contract between a training process and the dashboard. While `ganforge train` runs it keeps
// <run>/active.json = {"pid": <number>, "startedAt": <ISO time>} and deletes it at the end; the dashboard's stop button
// sends that pid SIGINT, on which the trainer saves a checkpoint at the current step and exits. A stale file (a run
// killed with -9, its pid since reused by another process) must never get a stranger signalled, hence the checks.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GanforgeError, InvalidParameterError } from '../../common/errors.ts';

export const ACTIVE_FILE = 'active.json';

export interface ActiveRun {
  /** The training process. */
  pid: number;
  /** When it started training (ISO 8601). */
  startedAt: string;
}

/** Seconds a process may appear to have started after startedAt (/proc's boot time has 1 s resolution). */
const START_TOLERANCE_SECONDS = 2;

/** Parses active.json's content; null when it is not the contract's shape. */
export function parseActiveRun(text: string): ActiveRun | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const v = value as Partial<ActiveRun> | null;
  if (typeof v !== 'object' || v === null) return null;
  if (!Number.isSafeInteger(v.pid) || (v.pid as number) < 2) return null;
  if (typeof v.startedAt !== 'string' || Number.isNaN(Date.parse(v.startedAt))) return null;
  return { pid: v.pid!, startedAt: v.startedAt };
}

/** True while a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Start time of a process in ms since the epoch, from /proc (Linux); null where /proc is not available. starttime is
 * in clock ticks since boot (USER_HZ, 100 on every Linux ABI node runs on) and btime is the boot time in seconds.
 */
export async function processStartTime(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 of the whole line
    const btime = Number(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return null;
    return btime * 1000 + (ticks / 100) * 1000;
  } catch {
    return null;
  }
}

/** The run's active.json when it names a live process that started before it wrote the file; null otherwise. */
export async function readActiveRun(runDir: string): Promise<ActiveRun | null> {
  let text: string;
  try {
    text = await readFile(join(runDir, ACTIVE_FILE), 'utf8');
  } catch {
    return null;
  }
  const active = parseActiveRun(text);
  if (active === null || !processExists(active.pid)) return null;
  const started = await processStartTime(active.pid);
  // A process younger than the file cannot have written it: the pid was reused after the trainer died.
  if (started !== null && started > Date.parse(active.startedAt) + START_TOLERANCE_SECONDS * 1000) return null;
  return active;
}

export interface StopRunOptions {
  /** Called instead of signalling when the training runs in this very process (`ganforge train --dashboard`). */
  onStop?: (runDir: string) => void;
}

/** What stopRun did. */
export interface StopResult {
  pid: number;
  via: 'SIGINT' | 'callback';
}

/**
 * Asks the run's training process to save and stop: SIGINT to the pid in active.json after checking it (a live
 * process, started before the file was written), or `onStop` when that pid is this process.
 */
export async function stopRun(runDir: string, options: StopRunOptions = {}): Promise<StopResult> {
  let text: string;
  try {
    text = await readFile(join(runDir, ACTIVE_FILE), 'utf8');
  } catch {
    throw new InvalidParameterError('run', `${runDir} is not training: it has no ${ACTIVE_FILE} (a training process writes it while it runs)`);
  }
  const active = parseActiveRun(text);
  if (active === null) {
    throw new InvalidParameterError('run', `${join(runDir, ACTIVE_FILE)} must be {"pid": <integer ≥ 2>, "startedAt": <ISO time>}, got ${text.trim().slice(0, 80)}`);
  }
  if (!processExists(active.pid)) {
    throw new InvalidParameterError('run', `${runDir}: training process ${active.pid} is no longer running (its ${ACTIVE_FILE} is stale)`);
  }
  const started = await processStartTime(active.pid);
  if (started !== null && started > Date.parse(active.startedAt) + START_TOLERANCE_SECONDS * 1000) {
    throw new InvalidParameterError('run', `${runDir}: process ${active.pid} started at ${new Date(started).toISOString()}, after the run's ${ACTIVE_FILE} (${active.startedAt}): the pid was reused, not signalling it`);
  }
  if (active.pid === process.pid) {
    if (options.onStop === undefined) throw new GanforgeError('INTERNAL', `${runDir} trains in the dashboard's own process, which was started without onStop`);
    options.onStop(runDir);
    return { pid: active.pid, via: 'callback' };
  }
  process.kill(active.pid, 'SIGINT');
  return { pid: active.pid, via: 'SIGINT' };
}
