// The summary printed at the end of every run (and saved as <run>/summary.json): how long it took, how fast, on which
// backend, where it ended, what the diagnoses said, and where its grids, plots and checkpoints are.

import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Diagnosis, EvalRecord } from './observers/observer.ts';

/** What a summary is made from (TrainGanResult has these fields). */
export interface FinishedRun {
  runDir: string;
  checkpointDir: string;
  step: number;
  epoch: number;
  aborted: boolean;
  metrics: object | null;
  samples: string[];
  backend: string;
  durationSeconds: number;
  warnings: Diagnosis[];
  eval: EvalRecord | null;
}

export const SUMMARY_FILE = 'summary.json';

export interface RunSummary {
  runDir: string;
  aborted: boolean;
  step: number;
  epoch: number;
  durationSeconds: number;
  stepsPerSecond: number;
  backend: string;
  finalMetrics: Record<string, number>;
  eval: EvalRecord | null;
  warnings: { code: string; step: number; message: string }[];
  lastGrid: string | null;
  plots: string | null;
  checkpoint: string;
}

/** `session`: the steps and seconds of this session alone (a resumed run's durationSeconds covers every session). */
export function summarizeRun(result: FinishedRun, session: { steps: number; seconds: number }): RunSummary {
  const plots = join(result.runDir, 'plots');
  return {
    runDir: result.runDir,
    aborted: result.aborted,
    step: result.step,
    epoch: result.epoch,
    durationSeconds: Math.round(result.durationSeconds * 10) / 10,
    stepsPerSecond: session.steps / Math.max(session.seconds, 1e-9),
    backend: result.backend,
    finalMetrics: result.metrics === null ? {} : Object.fromEntries(Object.entries(result.metrics).filter(([k, v]) => k !== 'step' && k !== 'epoch' && typeof v === 'number')),
    eval: result.eval,
    warnings: result.warnings.map(({ code, step, message }) => ({ code, step, message })),
    lastGrid: result.samples.at(-1) ?? null,
    plots: existsSync(plots) ? plots : null,
    checkpoint: result.checkpointDir,
  };
}

/** The summary as a few terminal lines, paths relative to the working folder. */
export function formatRunSummary(summary: RunSummary, cwd = process.cwd()): string {
  const path = (p: string) => relative(cwd, p) || '.';
  const m = summary.finalMetrics;
  const fmt = (k: string, digits = 3) => (m[k] === undefined ? null : `${k} ${m[k].toFixed(digits)}`);
  const lines = [
    `${summary.aborted ? 'stopped' : 'done'}: step ${summary.step} (epoch ${summary.epoch}) in ${summary.durationSeconds.toFixed(0)} s, ` +
      `${summary.stepsPerSecond.toFixed(2)} steps/s on ${summary.backend}`,
    `  last step: ${[fmt('dLoss'), fmt('gLoss'), fmt('dReal', 2), fmt('dFake', 2), fmt('wassersteinEstimate'), fmt('gradientPenalty'),
      fmt('reconstructionLoss', 2), fmt('klDivergence', 2), fmt('elbo', 2)].filter(Boolean).join(', ')}`,
  ];
  if (summary.eval) {
    const e = summary.eval;
    lines.push(`  eval at step ${e.step}: Fréchet ${e.frechetDistance.toFixed(2)}, coverage ${e.classCoverage.toFixed(3)}` +
      `${e.conditionalAccuracy === null ? '' : `, conditional accuracy ${(100 * e.conditionalAccuracy).toFixed(1)}%`} (${e.samples} samples)`);
  }
  lines.push(summary.warnings.length === 0 ? '  diagnoses: none raised'
    : `  diagnoses: ${summary.warnings.map((w) => `${w.code} at step ${w.step}`).join('; ')} (details in ${path(join(summary.runDir, 'diagnoses.jsonl'))})`);
  if (summary.lastGrid) lines.push(`  samples: ${path(summary.lastGrid)}`);
  if (summary.plots) lines.push(`  plots: ${path(summary.plots)}`);
  lines.push(`  checkpoint: ${path(summary.checkpoint)}`);
  return lines.join('\n');
}

