// Reads a run's metrics.jsonl for plots and the dashboard. The trainer appends one JSON line per step while it runs,
// so the last line may be half written: a reader keeps only complete lines and never fails on a torn tail. Eval lines
// (written by --eval-every) sit in the same file and are told apart from step lines by having no dLoss.

import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const METRICS_FILE = 'metrics.jsonl';

/** One logged line, flattened: numeric fields only (nested objects become `outer.inner`), plus its step. */
export interface MetricRow {
  step: number;
  values: Record<string, number>;
}

export interface MetricsLog {
  /** Step lines (those with a dLoss), in file order. */
  steps: MetricRow[];
  /** Eval lines (a step and metrics, but no dLoss), in file order. */
  evals: MetricRow[];
  /** Complete lines that were not JSON objects with a numeric step (reported, never fatal). */
  skipped: number;
}

/** Fields that place a line in time rather than measure training; never plotted as series. */
const NOT_SERIES = new Set(['step', 'epoch', 'time']);

/** Parses one complete line; null for a blank, malformed or step-less line. */
export function parseMetricsLine(line: string): { kind: 'step' | 'eval'; row: MetricRow } | null {
  const text = line.trim();
  if (text === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.step !== 'number' || !Number.isFinite(record.step)) return null;
  const values: Record<string, number> = {};
  for (const [key, field] of Object.entries(record)) {
    if (NOT_SERIES.has(key)) continue;
    if (typeof field === 'number' && Number.isFinite(field)) values[key] = field;
    else if (typeof field === 'object' && field !== null && !Array.isArray(field)) {
      // An eval line may nest its metrics ({"step":…, "eval": {"frechetDistance": …}}): one level is flattened.
      for (const [inner, v] of Object.entries(field as Record<string, unknown>)) {
        if (typeof v === 'number' && Number.isFinite(v)) values[`${key}.${inner}`] = v;
      }
    }
  }
  // A VAE run's step lines (train/vae-trainer.ts) have no dLoss but an elbo.
  const isStep = typeof record.dLoss === 'number' || record.dLoss === null || typeof record.elbo === 'number';
  return { kind: isStep ? 'step' : 'eval', row: { step: record.step, values } };
}

/** Splits text into complete lines and the unterminated rest (a line still being written). */
export function splitCompleteLines(text: string): { lines: string[]; rest: string } {
  const end = text.lastIndexOf('\n');
  if (end < 0) return { lines: [], rest: text };
  return { lines: text.slice(0, end).split('\n'), rest: text.slice(end + 1) };
}

/** Parses the complete lines of a metrics.jsonl text; an unterminated last line is ignored (it is still being written). */
export function parseMetricsLog(text: string): MetricsLog {
  const log: MetricsLog = { steps: [], evals: [], skipped: 0 };
  for (const line of splitCompleteLines(text).lines) appendLine(log, line);
  return log;
}

function appendLine(log: MetricsLog, line: string): void {
  if (line.trim() === '') return;
  const parsed = parseMetricsLine(line);
  if (parsed === null) log.skipped += 1;
  else (parsed.kind === 'step' ? log.steps : log.evals).push(parsed.row);
}

/** Reads `<runDir>/metrics.jsonl`; a missing file is an empty log (a run that has not stepped yet). */
export async function readMetricsLog(runDir: string): Promise<MetricsLog> {
  let text: string;
  try {
    text = await readFile(join(runDir, METRICS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { steps: [], evals: [], skipped: 0 };
    throw error;
  }
  return parseMetricsLog(text);
}

/** What one read of a growing metrics file brought. */
export interface TailChunk {
  /** True when the file shrank or was replaced (a fresh run in the same folder): start over from `log`. */
  reset: boolean;
  log: MetricsLog;
}

/**
 * Follows a metrics.jsonl as it grows: each read() returns the complete lines appended since the previous one. A
 * torn last line is kept back until its newline arrives; a file that shrinks (a new run with the same --out) resets.
 */
export class MetricsTail {
  readonly path: string;
  private offset = 0;
  private pending = Buffer.alloc(0);

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<TailChunk> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const reset = this.offset > 0;
      this.offset = 0;
      this.pending = Buffer.alloc(0);
      return { reset, log: { steps: [], evals: [], skipped: 0 } };
    }
    try {
      const { size } = await handle.stat();
      let reset = false;
      if (size < this.offset) {
        reset = true;
        this.offset = 0;
        this.pending = Buffer.alloc(0);
      }
      const fresh = Buffer.alloc(size - this.offset);
      let filled = 0;
      while (filled < fresh.length) {
        const { bytesRead } = await handle.read(fresh, filled, fresh.length - filled, this.offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      this.offset += filled;
      // Split on bytes, not characters: a multi-byte character may straddle two reads.
      const bytes = Buffer.concat([this.pending, fresh.subarray(0, filled)]);
      const end = bytes.lastIndexOf(0x0a);
      this.pending = Buffer.from(end < 0 ? bytes : bytes.subarray(end + 1));
      const log: MetricsLog = { steps: [], evals: [], skipped: 0 };
      if (end >= 0) for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) appendLine(log, line);
      return { reset, log };
    } finally {
      await handle.close();
    }
  }
}
