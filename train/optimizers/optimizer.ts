// The contract of an optimizer choice: builds the tfjs optimizer for one side of the GAN from shared settings, and can
// change its learning rate between steps (for schedules) without touching its state.

import type * as tf from '@tensorflow/tfjs';

/** Everything `--optimizer` and its parameters set; each optimizer reads the fields it has and ignores the rest. */
export interface OptimizerSettings {
  learningRate: number;
  /** Adam β1 (0.5 per DCGAN, 0 for WGAN-GP). */
  beta1: number;
  /** Adam β2 (0.999; 0.9 for WGAN-GP). */
  beta2: number;
  /** SGD and RMSProp momentum (0 = none). */
  momentum: number;
  /** RMSProp decay of the squared-gradient average. */
  rho: number;
  /** Adam and RMSProp ε; undefined = tfjs's backend epsilon (1e-7 in float32). */
  epsilon: number | undefined;
}

export interface OptimizerKind {
  name: string;
  summary: string;
  /** Settings fields this optimizer reads (to reject flags that would silently do nothing). */
  reads: ReadonlyArray<keyof OptimizerSettings>;
  create(settings: OptimizerSettings): tf.Optimizer;
  /** Sets the learning rate used by the next applyGradients; the optimizer's moments and step count are kept. */
  setLearningRate(optimizer: tf.Optimizer, learningRate: number): void;
}

/** tfjs's Adam and RMSProp read their `learningRate` field on every update (it is protected in the typings only). */
export function setLearningRateField(optimizer: tf.Optimizer, learningRate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
}
