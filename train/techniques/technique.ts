// The contract of a training technique: something that changes how a GAN is trained without being the loss or the
// architecture — a penalty term in the discriminator's loss (gradient penalty), a constraint after its update (weight
// clipping), an averaged copy of the generator (EMA). The trainer (GanStepper) calls these hooks at fixed points of a
// step, so each technique lives in its own file and the step loop has no branch per technique.

import type * as tf from '@tensorflow/tfjs';
import type { AdversarialLoss } from '../losses/loss.ts';

/** Names of the per-step numbers techniques may report; they join StepMetrics and metrics.jsonl under these names. */
export type TechniqueMetricName = 'gradientPenalty' | 'criticGradientNorm';

/** What a technique sees of the GAN it is attached to. */
export interface TechniqueContext {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  generatorVariables: readonly tf.Variable[];
  discriminatorVariables: readonly tf.Variable[];
  numClasses: number | null;
  loss: AdversarialLoss;
  /** Run seed: techniques that draw random numbers derive them from (seed, key) so a resumed run draws the same. */
  seed: number;
  /** The EMA generator loaded from a checkpoint on resume, continued instead of re-cloned from G. Default none. */
  restoredGeneratorEma?: tf.LayersModel;
}

/** Inputs of a discriminator penalty, evaluated inside D's gradient tape (so the penalty is back-propagated). */
export interface PenaltyInput {
  /** D's (training-mode) adversarial output [B, 1] for images and, for a conditional D, their labels. */
  critic: (images: tf.Tensor, labels: tf.Tensor | null) => tf.Tensor;
  real: tf.Tensor4D;
  /** G's fakes for this step (computed outside the tape: not differentiated with respect to G). */
  fake: tf.Tensor;
  /** Labels D is conditioned on for the real and the fake batch (null when D is unconditional). */
  realLabels: tf.Tensor | null;
  fakeLabels: tf.Tensor | null;
  /** The step's random-stream key (distinct per D update). */
  key: number;
}

export interface PenaltyResult {
  /** Added to D's loss (already weighted). */
  loss: tf.Scalar;
  /** Reported numbers (unweighted values, for the log). */
  metrics: Partial<Record<TechniqueMetricName, tf.Scalar>>;
}

export interface TrainingTechnique {
  readonly name: string;
  /** An extra term of D's loss; called inside D's gradient tape on every D update. */
  discriminatorPenalty?(input: PenaltyInput): PenaltyResult;
  /** Called after every D update (weight clipping projects D's weights here). */
  afterDiscriminatorUpdate?(): void;
  /** Called after every G update (the EMA of G's weights moves here). */
  afterGeneratorUpdate?(): void;
  /** The generator to sample and export instead of the trained one (the EMA copy); undefined = the trained one. */
  samplingGenerator?(): tf.LayersModel;
  dispose?(): void;
}

/** A technique by name, with typed options; `create` attaches it to a GAN. */
export interface TechniqueKind<Options> {
  name: string;
  summary: string;
  /**
   * Checks options against the loss and the models (e.g. a gradient penalty needs a critic without BatchNorm) and
   * throws InvalidParameterError naming what is wrong and what is allowed.
   */
  create(options: Options, context: TechniqueContext): TrainingTechnique;
}
