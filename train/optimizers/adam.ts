// Adam (Kingma & Ba 2015): the GAN default since DCGAN, with β1 = 0.5; WGAN-GP uses β = (0, 0.9).

import * as tf from '@tensorflow/tfjs';
import { setLearningRateField, type OptimizerKind } from './optimizer.ts';

export const adamOptimizer: OptimizerKind = {
  name: 'adam',
  summary: 'Adam (β1, β2, ε); DCGAN uses β1 = 0.5, WGAN-GP β = (0, 0.9)',
  reads: ['learningRate', 'beta1', 'beta2', 'epsilon'],
  create: (s) => tf.train.adam(s.learningRate, s.beta1, s.beta2, s.epsilon),
  setLearningRate: setLearningRateField,
};
