// WGAN's weight clipping (Arjovsky et al. 2017): after every critic update each critic weight is clipped into [−c, c],
// a crude way to keep the critic K-Lipschitz so that its real − fake gap estimates the Wasserstein distance. Every
// trainable weight is clipped, biases and norm scales included, as in the paper's reference code (which clamps all
// parameters). The clip writes each variable in place (assign), so no tensor outlives the call.

import * as tf from '@tensorflow/tfjs';
import type { TechniqueKind, TrainingTechnique } from './technique.ts';

/** Clips every variable into [−bound, bound] in place. */
export function clipWeights(variables: readonly tf.Variable[], bound: number): void {
  tf.tidy(() => {
    for (const v of variables) v.assign(tf.clipByValue(v, -bound, bound));
  });
}

export const weightClippingTechnique: TechniqueKind<number> = {
  name: 'weightClip',
  summary: 'WGAN: clip every critic weight into [−c, c] after each critic update',
  create(bound: number, context): TrainingTechnique {
    if (typeof bound !== 'number' || !(bound > 0) || !Number.isFinite(bound)) {
      throw new RangeError(`'weightClip' must be a positive finite number (c; 0 = off), got ${String(bound)}`);
    }
    return {
      name: 'weightClip',
      afterDiscriminatorUpdate: () => clipWeights(context.discriminatorVariables, bound),
    };
  },
};
