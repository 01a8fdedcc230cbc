// One line of metrics.jsonl, in its own module so the observers, the sidecar and the trainer can all name it without
// importing one another.

import type { DiscriminatorStepMetrics, GeneratorStepMetrics } from './gan-stepper.ts';
import type { VaeStepMetrics } from './vae-stepper.ts';

/**
 * One step's numbers. dLoss is D's adversarial loss (for BCE losses the mean of the real and fake cross-entropies,
 * ln 2 ≈ 0.693 at equilibrium); dReal and dFake are mean D(x) and D(G(z)) (≈ 0.5 at equilibrium) or, for critic losses,
 * mean critic scores. Auxiliary-classifier families add dClassLoss (ln 10 ≈ 2.30 untrained on 10 classes),
 * dClassAccuracy (share of the real batch classified right) and gClassLoss.
 */
export interface StepMetrics extends DiscriminatorStepMetrics, GeneratorStepMetrics {
  /** Generator updates done so far (1-based after the first step). */
  step: number;
  /** Epoch the step belongs to (1-based). */
  epoch: number;
  /** Steps per second over the epoch so far. */
  stepsPerSecond: number;
}

/** One line of a VAE run's metrics.jsonl. */
export interface VaeStepRecord extends VaeStepMetrics {
  step: number;
  epoch: number;
  /** Steps per second over the epoch so far. */
  stepsPerSecond: number;
}

/** What an observer sees after a step: a GAN step's numbers or a VAE step's. */
export type StepRecord = StepMetrics | VaeStepRecord;

/** Whether a step record is a GAN step's (the adversarial diagnoses read only those). */
export function isAdversarialStep(m: StepRecord): m is StepMetrics {
  return 'dLoss' in m;
}
