// Tile's gradient in O(rank) kernels. tfjs-core's own (gradients/Tile_grad) adds one slice of dy per repetition, so
// the cost grows with the product of the reps. tfjs-layers' LayerNormalization tiles each sample's mean and variance
// over H·W·C (7·7·128 = 6,272 reps for a DCGAN critic's second block), so a single backward pass there is 6,272
// Slice + Add kernels. A gradient penalty differentiates that backward pass once more, turning each Slice into a
// full-size PadV2. A WGAN-GP DCGAN step on wasm then ran for minutes, growing with the batch and the channels.
// The same sum, done once per tiled axis: view the tiled axis of length r·n as [r, n] and sum out r. Sum and Reshape
// have cheap gradients, so the penalty's second derivative stays cheap too. The gradient is defined in tfjs-core, so
// this one registration serves cpu, wasm and tensorflow alike.

import * as tf from '@tensorflow/tfjs';

/** dL/dx of y = tile(x, reps) given dL/dy: the sum of dy's copies of x, one reshape and sum per axis with reps > 1. */
export function tileGradient(dy: tf.Tensor, inputShape: readonly number[], reps: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    let gradient = tf.clone(dy); // a new tensor even when no axis is tiled, as a gradient must be
    for (let axis = 0; axis < inputShape.length; axis++) {
      const rep = reps[axis]!;
      if (rep === 1) continue;
      // Tile lays the copies end to end, so index r·n + j of this axis is copy r of element j.
      const outer = gradient.shape.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = gradient.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const summed = tf.sum(tf.reshape(gradient, [outer, rep, inputShape[axis]! * inner]), 1);
      gradient = tf.reshape(summed, [...gradient.shape.slice(0, axis), inputShape[axis]!, ...gradient.shape.slice(axis + 1)]);
    }
    return gradient;
  });
}

/** The gradient registration (exported so bench/gradient-penalty.ts can time it against tfjs-core's in one run). */
export const tileGradientConfig: tf.GradConfig = {
  kernelName: 'Tile',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = saved[0]!;
    const reps = (attrs as { reps: number[] }).reps;
    return { x: () => tileGradient(dy as tf.Tensor, x.shape, reps) };
  },
};

let registered = false;

/** Replaces tfjs-core's Tile gradient with tileGradient (idempotent). */
export function registerTileGradient(): void {
  if (registered) return;
  tf.registerGradient(tileGradientConfig);
  registered = true;
}
