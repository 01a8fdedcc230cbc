// WGAN (Arjovsky et al. 2017): the critic maximises E[C(x)] − E[C(G(z))], an estimate of the Wasserstein-1 distance
// when C is 1-Lipschitz — which weight clipping (WGAN) or a gradient penalty (WGAN-GP) must enforce; without either
// this loss is unbounded. The critic's output is linear (no sigmoid).

import * as tf from '@tensorflow/tfjs';
import type { AdversarialLoss } from './loss.ts';

export const wassersteinLoss: AdversarialLoss = {
  name: 'wasserstein',
  summary: 'critic maximises E[C(x)] − E[C(G(z))]; needs weight clipping or a gradient penalty (WGAN, WGAN-GP)',
  output: 'critic',
  supportsLabelSmoothing: false,
  discriminatorLoss: (real, fake) => tf.tidy(() => tf.sub<tf.Scalar>(fake.mean(), real.mean())),
  generatorLoss: (fake) => tf.tidy(() => tf.neg<tf.Scalar>(fake.mean())),
};
