// The contract of an adversarial loss: how the discriminator (or critic) is scored on real and fake batches, and what
// the generator minimises. The trainer calls these inside its gradient tapes, so each must be built from tfjs ops
// with gradients (and, for losses used with a gradient penalty, second-order gradients) on every backend.

import type * as tf from '@tensorflow/tfjs';

export interface DiscriminatorLossOptions {
  /**
   * Target of the real batch for losses on probabilities: 1 normally, 0.9 with one-sided label smoothing (Salimans
   * et al. 2016: only the real side is smoothed, so D is never rewarded for calling fakes real).
   */
  realTarget: number;
}

export interface AdversarialLoss {
  name: string;
  /** One line for `--help` and the README. */
  summary: string;
  /**
   * What the discriminator's output means. 'logit': a logit of "real" (D(x) = sigmoid(logit) is reported);
   * 'critic': an unbounded score (WGAN, hinge), whose real − fake mean gap is reported as the Wasserstein estimate.
   */
  output: 'logit' | 'critic';
  /** Whether `realTarget` below 1 (label smoothing) means anything for this loss. */
  supportsLabelSmoothing: boolean;
  /** D's loss from its outputs [B, 1] on the real and the fake batch (mean over the batch). */
  discriminatorLoss(real: tf.Tensor, fake: tf.Tensor, options: DiscriminatorLossOptions): tf.Scalar;
  /** G's loss from D's outputs [B, 1] on G's fakes. */
  generatorLoss(fake: tf.Tensor): tf.Scalar;
}
