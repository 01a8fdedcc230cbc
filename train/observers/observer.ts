// The contract of a training observer: something that watches a run step by step without changing how it trains —
// the diagnoses that warn of a won discriminator or a collapse, the eval protocol run every N steps, the marker that
// tells a dashboard a run is live. The trainer calls these hooks at fixed points; each observer lives in its own file.

import type * as tf from '@tensorflow/tfjs';
import type { BuildContext } from '../models/family.ts';
import type { StepRecord } from '../step-metrics.ts';

/** Quality metrics of the generator at a step, measured by the eval protocol (eval/evaluate.ts's judge). */
export interface EvalRecord {
  step: number;
  /** Samples judged (a subsample of `ganforge eval`'s 10,000, stated in `protocol`). */
  samples: number;
  frechetDistance: number;
  /** Conditional models: share of samples the judge assigns to the requested class; null otherwise. */
  conditionalAccuracy: number | null;
  classCoverage: number;
  diversity: number;
  protocol: string;
}

/** A warning raised by a diagnosis: what it saw, the numbers behind it, and what to try. */
export interface Diagnosis {
  /** Stable code: 'DISCRIMINATOR_WON', 'MODE_COLLAPSE', 'DIVERGENCE'. */
  code: string;
  step: number;
  message: string;
  /** The numbers that triggered it. */
  evidence: Record<string, number>;
  remedy: string;
}

/** What an observer may see and do of the run it watches. */
export interface RunView {
  runDir: string;
  /** Generator updates done. */
  readonly step: number;
  totalSteps: number;
  backend: string;
  context: BuildContext;
  numClasses: number | null;
  /** The generator to judge (the EMA copy when on), in inference mode. */
  samplingGenerator(): tf.LayersModel;
  /** Records an eval result: appended to eval.jsonl and stored in the following checkpoints' sidecars. */
  recordEval(record: EvalRecord): void;
  /** Raises a warning: printed once on stderr, appended to diagnoses.jsonl. */
  warn(diagnosis: Diagnosis): void;
  /** Asks for a checkpoint at the current step (after an eval, so the best one can be kept and exported). */
  requestCheckpoint(): void;
}

export interface TrainingObserver {
  readonly name: string;
  onStart?(run: RunView): void | Promise<void>;
  /** After each step, GAN or VAE (isAdversarialStep tells which). */
  onStep?(metrics: StepRecord, run: RunView): void | Promise<void>;
  onCheckpoint?(dir: string, run: RunView): void | Promise<void>;
  /** An eval record was just recorded (by the eval-every observer). */
  onEval?(record: EvalRecord, run: RunView): void | Promise<void>;
  /** Called once at the end, also after an abort or a failure (so markers are removed). */
  onEnd?(run: RunView): void | Promise<void>;
}
