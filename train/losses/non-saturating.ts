// G minimises −log D(G(z)) instead of log(1 − D(G(z))): the same fixed point, but strong gradients while D still
// rejects the fakes easily, which is when the minimax form's gradient vanishes (Goodfellow et al. 2014, §3).

import * as tf from '@tensorflow/tfjs';
import { binaryCrossEntropyDiscriminatorLoss } from './binary-cross-entropy.ts';
import type { AdversarialLoss } from './loss.ts';

export const nonSaturatingLoss: AdversarialLoss = {
  name: 'non-saturating',
  summary: 'BCE discriminator, G minimises −log D(G(z)) (strong early gradients; the default)',
  output: 'logit',
  supportsLabelSmoothing: true,
  discriminatorLoss: binaryCrossEntropyDiscriminatorLoss,
  generatorLoss: (fake) => tf.tidy(() => tf.softplus(tf.neg(fake)).mean<tf.Scalar>()),
};
