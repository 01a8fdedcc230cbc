// RMSProp: the optimizer of the original WGAN (Arjovsky et al. 2017 found momentum-based optimizers unstable with weight
// clipping).

import * as tf from '@tensorflow/tfjs';
import { setLearningRateField, type OptimizerKind } from './optimizer.ts';

export const rmspropOptimizer: OptimizerKind = {
  name: 'rmsprop',
  summary: 'RMSProp (ρ, momentum, ε); the original WGAN uses it with lr 5e-5',
  reads: ['learningRate', 'rho', 'momentum', 'epsilon'],
  create: (s) => tf.train.rmsprop(s.learningRate, s.rho, s.momentum, s.epsilon),
  setLearningRate: setLearningRateField,
};
