// Style mixing regularisation (StyleGAN §3.1): inputs w and a second w₂ [B, wDim] → one style per synthesis layer
// [B, L, wDim]. In training, with probability p per sample, the layers from a random crossover c ∈ [1, L − 1] on take
// w₂ instead of w, so no layer can rely on its neighbours sharing a style. At inference every layer gets w, unless a
// crossover per sample is set (`inferenceCrossover`, the tfjs counterpart of the exported graph's `mix_from` input):
// then layers l ≥ c take w₂, and c ≥ L mixes nothing.

import * as tf from '@tensorflow/tfjs';
import { CallSeeds } from './layer-random.ts';

export interface StyleMixingArgs {
  /** L: the number of per-layer styles (AdaIN layers). ≥ 1. */
  styles: number;
  /** Probability that a training sample mixes. Default 0.9 (StyleGAN's). */
  probability?: number;
  /** Seed of the mixing decisions. */
  seed: number;
  name?: string;
}

export class StyleMixing extends tf.layers.Layer {
  static className = 'StyleMixing';
  readonly styles: number;
  readonly probability: number;
  readonly seed: number;
  readonly callSeeds: CallSeeds;
  /** Per sample, the first layer that takes w₂ at inference; null = none (every layer takes w). Not part of the config. */
  inferenceCrossover: Float32Array | null = null;

  constructor(args: StyleMixingArgs) {
    super(args);
    if (!(Number.isInteger(args.styles) && args.styles >= 1)) throw new RangeError(`'styles' must be an integer ≥ 1, got ${args.styles}`);
    const probability = args.probability ?? 0.9;
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`'probability' must be in [0, 1], got ${probability}`);
    this.styles = args.styles;
    this.probability = probability;
    this.seed = args.seed;
    this.callSeeds = new CallSeeds(args.seed);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [w] = inputShape as tf.Shape[];
    return [w![0]!, this.styles, w![1]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const [w, w2] = inputs as tf.Tensor[];
      const stacked = tf.tile(tf.expandDims(w!, 1), [1, this.styles, 1]); // [B, L, wDim]
      if (kwargs.training !== true) {
        if (this.inferenceCrossover === null) return stacked;
        const from = tf.tensor(this.inferenceCrossover, [this.inferenceCrossover.length, 1, 1]);
        const layer = tf.reshape(tf.range(0, this.styles, 1, 'float32'), [1, -1, 1]);
        const second = tf.greaterEqual(layer, from).tile([1, 1, w!.shape[1]!]); // [B, L, wDim]
        return tf.where(second, tf.tile(tf.expandDims(w2!, 1), [1, this.styles, 1]), stacked);
      }
      if (this.styles < 2 || this.probability === 0) return stacked;
      const batch = w!.shape[0];
      const mixes = tf.less(tf.randomUniform([batch, 1, 1], 0, 1, 'float32', this.callSeeds.next()), this.probability);
      // c uniform in [1, L − 1]: floor(u·(L − 1)) + 1.
      const crossover = tf.add(tf.floor(tf.mul(tf.randomUniform([batch, 1, 1], 0, 1, 'float32', this.callSeeds.next()), this.styles - 1)), 1);
      const layer = tf.reshape(tf.range(0, this.styles, 1, 'float32'), [1, -1, 1]);
      const second = tf.logicalAnd(mixes, tf.greaterEqual(layer, crossover)).tile([1, 1, w!.shape[1]!]); // [B, L, wDim]
      return tf.where(second, tf.tile(tf.expandDims(w2!, 1), [1, this.styles, 1]), stacked);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), styles: this.styles, probability: this.probability, seed: this.seed };
  }
}
tf.serialization.registerClass(StyleMixing);
