// Pixel normalisation (Karras et al. 2018; StyleGAN's first mapping step): x / √(mean(x²) + ε) over the last axis, so
// the mapping network sees every latent (and label embedding) at unit second moment whatever its scale.

import * as tf from '@tensorflow/tfjs';

export interface PixelNormArgs {
  /** Added to the mean square before the root. Default 1e-8 (StyleGAN's). */
  epsilon?: number;
  name?: string;
}

export class PixelNorm extends tf.layers.Layer {
  static className = 'PixelNorm';
  readonly epsilon: number;

  constructor(args: PixelNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-8;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), this.epsilon)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(PixelNorm);
