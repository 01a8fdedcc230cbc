// The original GAN discriminator loss (Goodfellow et al. 2014), shared by the minimax and non-saturating losses, which
// differ only on the generator side: BCE(real → target) + BCE(fake → 0) on logits, halved so equilibrium reads ln 2.

import * as tf from '@tensorflow/tfjs';
import type { DiscriminatorLossOptions } from './loss.ts';

/** ½·[t·softplus(−l_r) + (1 − t)·softplus(l_r)] + ½·softplus(l_f), means over the batch; t = options.realTarget. */
export function binaryCrossEntropyDiscriminatorLoss(real: tf.Tensor, fake: tf.Tensor, options: DiscriminatorLossOptions): tf.Scalar {
  return tf.tidy(() => {
    const t = options.realTarget;
    // −[t·log σ(l) + (1 − t)·log(1 − σ(l))] = t·softplus(−l) + (1 − t)·softplus(l); t = 1 skips the second term.
    const realTerm = t === 1 ? tf.softplus(tf.neg(real)) : tf.add(tf.mul(tf.softplus(tf.neg(real)), t), tf.mul(tf.softplus(real), 1 - t));
    return tf.add(realTerm.mean(), tf.softplus(fake).mean()).div<tf.Scalar>(2);
  });
}
