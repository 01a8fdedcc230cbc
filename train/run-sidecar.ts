// The JSON sidecar saved beside every checkpoint (runs/<run>/checkpoints/<step>/run.json). The exporter copies its
// facts into the ONNX manifest, so nothing downstream has to guess how a generator was built or trained.

import type { EvalRecord } from './observers/observer.ts';

export const SIDECAR_FORMAT = 'ganforge.run/1';

export interface RunSidecar {
  format: typeof SIDECAR_FORMAT;
  /** GAN family name from the family registry. */
  family: string;
  /** The family's objective (train/models/family.ts); absent = 'adversarial'. A 'variational' run's generator is a VAE decoder. */
  objective?: 'adversarial' | 'variational';
  /** The family's full config (its defaults merged with the user's options). */
  familyConfig: Record<string, unknown>;
  /** Dataset name ('mnist', 'fashion-mnist') or the IDX path it was read from. */
  dataset: string;
  /** Class names, index = label; null when the family is unconditional. */
  classes: string[] | null;
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  /** Range of real and generated pixel values. */
  valueRange: [number, number];
  latentDim: number;
  /** Optimiser steps done (one step = one generator update). */
  step: number;
  /** Whole epochs done. */
  epoch: number;
  batchSize: number;
  seed: number;
  /** tfjs backend that trained it: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
  /** Generator loss ('non-saturating', 'minimax', ...). */
  loss: string;
  learningRates: { generator: number; discriminator: number };
  /** How it was optimised (absent in sidecars written before these options existed: Adam, constant rate, no techniques). */
  training?: TrainingSettings;
  /** Command line that started the run. */
  command: string;
  /** Wall time spent training, seconds, over all sessions of this run. */
  durationSeconds: number;
  /** ISO time of the save. */
  savedAt: string;
  /** Last logged metrics (finite numbers). */
  metrics: Record<string, number>;
  /** The last eval-protocol result at or before this step (runs trained with --eval-every). */
  eval?: EvalRecord;
}

/** The optimisation settings of a run, as resolved (preset applied, defaults filled). */
export interface TrainingSettings {
  optimizer: string;
  beta1: number;
  beta2: number;
  momentum: number;
  rho: number;
  /** null = tfjs's backend epsilon. */
  epsilon: number | null;
  /** train/optimizers/schedule.ts form, e.g. 'constant', 'cosine', 'warmup:100,step:1000:0.5'. */
  lrSchedule: string;
  discriminatorSteps: number;
  labelSmoothing: number;
  gradientPenalty: number;
  weightClip: number;
  generatorEma: number;
  /** The preset the run started from, or null. */
  preset: string | null;
}
