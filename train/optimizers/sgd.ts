// Plain stochastic gradient descent, with optional momentum: the baseline of the source articles' optimizer comparison.

import * as tf from '@tensorflow/tfjs';
import type { OptimizerKind } from './optimizer.ts';

export const sgdOptimizer: OptimizerKind = {
  name: 'sgd',
  summary: 'SGD, with momentum when --momentum > 0',
  reads: ['learningRate', 'momentum'],
  create: (s) => s.momentum > 0 ? tf.train.momentum(s.learningRate, s.momentum) : tf.train.sgd(s.learningRate),
  // SGD keeps −lr as a kept scalar; setLearningRate replaces it (MomentumOptimizer inherits it).
  setLearningRate: (optimizer, learningRate) => (optimizer as tf.SGDOptimizer).setLearningRate(learningRate),
};
