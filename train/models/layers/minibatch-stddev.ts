// Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs", §3), the form of minibatch
// discrimination that needs no learnt tensor: D is shown how much its input batch varies, so a generator that collapses
// to a few modes produces a batch whose spread D can tell from a real batch's. The batch is split into groups of G
// samples; for each group, the standard deviation of every feature over the group's samples is averaged over the
// features into one number, which is appended to each of the group's samples as one more feature (a dense input
// [B, F] → [B, F + 1]) or one more constant feature map (an image [B, H, W, C] → [B, H, W, C + 1]).
//
// Grouping as in the reference implementation: sample n belongs to group n mod (B / G), so consecutive samples land in
// different groups. G = min(groupSize, B), lowered to the largest divisor of B when it does not divide it (the reference
// requires it to; a gradient penalty or an odd last batch would otherwise fail). σ = √(var + 1e-8) keeps the gradient
// finite when a group is identical (there σ = 1e-4, not 0).

import * as tf from '@tensorflow/tfjs';

/** tfjs's base layer arguments (name, trainable, dtype, ...), as fromConfig passes them back. */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface MinibatchStddevArgs extends LayerArgs {
  /** Samples per statistics group; a batch smaller than this is one group. Default 4 (the reference). */
  groupSize?: number;
}

/** ε under the square root of the variance (the reference's 1e-8). */
export const STDDEV_EPSILON = 1e-8;

/** The group size used for a batch of `batch`: min(groupSize, batch), lowered until it divides the batch. */
export function minibatchGroupSize(groupSize: number, batch: number): number {
  let g = Math.max(1, Math.min(groupSize, batch));
  while (batch % g !== 0) g--;
  return g;
}

/** The minibatch-stddev feature of `x` [B, ...features]: [B] values, one per sample (its group's mean σ). */
export function minibatchStddevFeature(x: tf.Tensor, groupSize: number): tf.Tensor1D {
  return tf.tidy(() => {
    const batch = x.shape[0];
    const g = minibatchGroupSize(groupSize, batch);
    const m = batch / g;
    const features = x.shape.slice(1);
    const grouped = x.reshape([g, m, ...features]); // [G, M, ...]: sample n = i·M + j is member i of group j
    const centred = tf.sub(grouped, tf.mean(grouped, 0, true));
    const sigma = tf.sqrt(tf.add(tf.mean(tf.square(centred), 0), STDDEV_EPSILON)); // [M, ...] per-feature σ over the group
    const perGroup = tf.mean(sigma.reshape([m, -1]), 1); // [M]
    return tf.tile(perGroup, [g]) as tf.Tensor1D; // [B]: sample i·M + j gets group j's value
  });
}

export class MinibatchStddev extends tf.layers.Layer {
  static className = 'MinibatchStddev';
  readonly groupSize: number;

  constructor(args: MinibatchStddevArgs = {}) {
    const { groupSize = 4, ...layerArgs } = args;
    super(layerArgs);
    if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`MinibatchStddev 'groupSize' must be an integer ≥ 1, got ${groupSize}`);
    this.groupSize = groupSize;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 2 && shape.length !== 4) {
      throw new RangeError(`MinibatchStddev takes [B, F] features or [B, H, W, C] maps, got rank ${shape.length}`);
    }
    const last = shape[shape.length - 1];
    return [...shape.slice(0, -1), last == null ? null : last + 1];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const feature = minibatchStddevFeature(x, this.groupSize); // [B]
      if (x.rank === 2) return tf.concat([x, feature.reshape([-1, 1])], 1); // [B, F + 1]
      const [batch, height, width] = x.shape as number[];
      const map = tf.tile(feature.reshape([batch!, 1, 1, 1]), [1, height!, width!, 1]); // [B, H, W, 1]
      return tf.concat([x, map], 3); // [B, H, W, C + 1]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groupSize: this.groupSize };
  }
}

tf.serialization.registerClass(MinibatchStddev);

export function minibatchStddev(args: MinibatchStddevArgs = {}): MinibatchStddev {
  return new MinibatchStddev(args);
}
