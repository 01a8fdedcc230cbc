// Hinge loss (Lim & Ye 2017; SAGAN, BigGAN): D minimises E[relu(1 − D(x))] + E[relu(1 + D(G(z)))], so it stops
// pushing a sample once it is beyond the margin; G minimises −E[D(G(z))].

import * as tf from '@tensorflow/tfjs';
import type { AdversarialLoss } from './loss.ts';

export const hingeLoss: AdversarialLoss = {
  name: 'hinge',
  summary: 'D minimises relu(1 − D(x)) + relu(1 + D(G(z))), G minimises −D(G(z)) (SAGAN/BigGAN)',
  output: 'critic',
  supportsLabelSmoothing: false,
  discriminatorLoss: (real, fake) => tf.tidy(() => tf.add<tf.Scalar>(tf.relu(tf.sub(1, real)).mean(), tf.relu(tf.add(1, fake)).mean())),
  generatorLoss: (fake) => tf.tidy(() => tf.neg<tf.Scalar>(fake.mean())),
};
