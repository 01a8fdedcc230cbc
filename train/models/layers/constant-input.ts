// StyleGAN's learned constant: the synthesis network starts from one trained [h, w, c] tensor, the same for every
// sample, and the latent enters only through the styles. The layer takes any batch-carrying tensor (the latent) just
// to know the batch size: [B, …] → [B, h, w, c].

import * as tf from '@tensorflow/tfjs';

export interface ConstantInputArgs {
  /** [height, width, channels] of the constant. */
  shape: [number, number, number];
  /** Seed of the N(0, 1) initialiser. */
  seed: number;
  name?: string;
}

export class ConstantInput extends tf.layers.Layer {
  static className = 'ConstantInput';
  readonly shape: [number, number, number];
  readonly seed: number;
  private constant: tf.LayerVariable | null = null;

  constructor(args: ConstantInputArgs) {
    super(args);
    this.shape = [...args.shape];
    this.seed = args.seed;
  }

  override build(): void {
    this.constant = this.addWeight('constant', this.shape, 'float32', tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: this.seed }));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const first = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [first[0] ?? null, ...this.shape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.tile(tf.expandDims(this.constant!.read(), 0), [x.shape[0], 1, 1, 1]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), shape: this.shape, seed: this.seed };
  }
}
tf.serialization.registerClass(ConstantInput);
