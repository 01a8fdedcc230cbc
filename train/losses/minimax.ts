// The minimax game as written: G minimises log(1 − D(G(z))). Kept to show why it is not used: its gradient vanishes
// when D rejects the fakes confidently, early in training.

import * as tf from '@tensorflow/tfjs';
import { binaryCrossEntropyDiscriminatorLoss } from './binary-cross-entropy.ts';
import type { AdversarialLoss } from './loss.ts';

export const minimaxLoss: AdversarialLoss = {
  name: 'minimax',
  summary: 'BCE discriminator, G minimises log(1 − D(G(z))) (the original game; weak early gradients)',
  output: 'logit',
  supportsLabelSmoothing: true,
  discriminatorLoss: binaryCrossEntropyDiscriminatorLoss,
  // log(1 − σ(l)) = −softplus(l)
  generatorLoss: (fake) => tf.tidy(() => tf.neg(tf.softplus(fake)).mean<tf.Scalar>()),
};
