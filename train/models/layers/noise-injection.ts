// StyleGAN's noise input: in training, x + s_c · n with one N(0, 1) value per pixel shared by the channels and a
// learned per-channel strength s (initialised to 0, as in StyleGAN). At inference the noise is zero, so the served
// model is a deterministic function of its inputs (the manifest records this as noise 'zeroed').

import * as tf from '@tensorflow/tfjs';
import { CallSeeds } from './layer-random.ts';

export interface NoiseInjectionArgs {
  /** Seed of the training noise streams. */
  seed: number;
  name?: string;
}

export class NoiseInjection extends tf.layers.Layer {
  static className = 'NoiseInjection';
  readonly seed: number;
  private strength: tf.LayerVariable | null = null;
  readonly callSeeds: CallSeeds;

  constructor(args: NoiseInjectionArgs) {
    super(args);
    this.seed = args.seed;
    this.callSeeds = new CallSeeds(args.seed);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    if (shape.length !== 4) throw new RangeError(`layer '${this.name}' (NoiseInjection) needs a [B, H, W, C] input, got ${JSON.stringify(shape)}`);
    this.strength = this.addWeight('strength', [shape[3]!], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (kwargs.training !== true) return tf.clone(x);
      const [b, h, w] = x.shape;
      const noise = tf.randomNormal([b, h!, w!, 1], 0, 1, 'float32', this.callSeeds.next());
      return tf.add(x, tf.mul(noise, this.strength!.read()));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(NoiseInjection);
