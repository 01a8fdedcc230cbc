// The RunView both training loops (train/trainer.ts, train/vae-trainer.ts) hand their observers, and the record it
// keeps: eval results appended to eval.jsonl and metrics.jsonl (where the plots and the dashboard read them), warnings
// appended to diagnoses.jsonl and printed once, and checkpoint requests the loop honours after the step.

import { appendFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { BuildContext } from '../models/family.ts';
import type { Diagnosis, EvalRecord, RunView, TrainingObserver } from './observer.ts';

export interface RunViewOptions {
  runDir: string;
  totalSteps: number;
  backend: string;
  context: BuildContext;
  numClasses: number | null;
  /** The current step (the loop owns it). */
  step: () => number;
  samplingGenerator: () => tf.LayersModel;
  metricsLog: WriteStream;
  /** Called with each warning instead of printing it (tests, embedders). */
  onWarning?: ((diagnosis: Diagnosis) => void) | undefined;
  /** The run's observers, told of each eval record (a getter: they are built with the view). */
  observers: () => readonly TrainingObserver[];
}

export interface RunRecord {
  view: RunView;
  readonly warnings: Diagnosis[];
  /** The last eval record, else null. */
  lastEval(): EvalRecord | null;
  /** Whether an observer asked for a checkpoint since the last call (and clears the request). */
  takeCheckpointRequest(): boolean;
}

export function createRunView(options: RunViewOptions): RunRecord {
  const { runDir, metricsLog, onWarning } = options;
  const warnings: Diagnosis[] = [];
  let lastEval: EvalRecord | null = null;
  let checkpointRequested = false;
  const view: RunView = {
    runDir, totalSteps: options.totalSteps, backend: options.backend, context: options.context, numClasses: options.numClasses,
    get step() { return options.step(); },
    samplingGenerator: options.samplingGenerator,
    recordEval(record) {
      lastEval = record;
      appendFileSync(join(runDir, 'eval.jsonl'), `${JSON.stringify(record)}\n`);
      // Also in metrics.jsonl, where the plots and the dashboard read it (a line of kind 'eval').
      metricsLog.write(`${JSON.stringify({ kind: 'eval', ...record, protocol: undefined })}\n`);
      for (const observer of options.observers()) void observer.onEval?.(record, view);
    },
    warn(diagnosis) {
      warnings.push(diagnosis);
      appendFileSync(join(runDir, 'diagnoses.jsonl'), `${JSON.stringify(diagnosis)}\n`);
      if (onWarning) onWarning(diagnosis);
      else process.stderr.write(`\nwarning ${diagnosis.code} at step ${diagnosis.step}: ${diagnosis.message}\n  try: ${diagnosis.remedy}\n`);
    },
    requestCheckpoint() { checkpointRequested = true; },
  };
  return {
    view,
    warnings,
    lastEval: () => lastEval,
    takeCheckpointRequest() {
      const requested = checkpointRequested;
      checkpointRequested = false;
      return requested;
    },
  };
}
