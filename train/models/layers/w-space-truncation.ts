// The truncation trick in w space (StyleGAN: w' = w̄ + ψ·(w − w̄)), with the mean w̄ tracked by the layer itself: each
// training-mode call moves w̄ toward the batch's mean w by an exponential moving average (StyleGAN2's β = 0.995), per
// class when the layer also takes the label, so ψ pulls a sample toward the mean of its own class. w̄ is a
// non-trainable weight: checkpoints keep it and the exported graph carries it. In training the layer passes w through.
// At inference tfjs applies `psi` (default 1, i.e. untouched: settable for tfjs-side sampling and parity references);
// the ONNX graph instead takes ψ as its `truncation` input [batch, 1] (export/ops/w-space-truncation.ts).

import * as tf from '@tensorflow/tfjs';

export interface WSpaceTruncationArgs {
  /** Rows of w̄: the number of classes for a conditional generator (inputs [w, label]), 1 for an unconditional one. */
  classes: number;
  /** EMA decay of w̄ per training call. Default 0.995. */
  decay?: number;
  name?: string;
}

export class WSpaceTruncation extends tf.layers.Layer {
  static className = 'WSpaceTruncation';
  readonly classes: number;
  readonly decay: number;
  /** ψ applied by tfjs at inference; 1 = no truncation. Not part of the config (the served model takes ψ as input). */
  psi = 1;
  private average: tf.LayerVariable | null = null;

  constructor(args: WSpaceTruncationArgs) {
    super(args);
    if (!(Number.isInteger(args.classes) && args.classes >= 1)) throw new RangeError(`'classes' must be an integer ≥ 1, got ${args.classes}`);
    const decay = args.decay ?? 0.995;
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`'decay' must be in [0, 1), got ${decay}`);
    this.classes = args.classes;
    this.decay = decay;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as tf.Shape[];
    const conditional = shapes.length === 2;
    if (conditional !== this.classes > 1 || shapes[0]!.length !== 2) {
      throw new RangeError(`layer '${this.name}' (WSpaceTruncation) with ${this.classes} class(es) takes ${this.classes > 1 ? '[w [B, wDim], label [B, 1]]' : 'w [B, wDim]'}, got ${JSON.stringify(inputShape)}`);
    }
    this.average = this.addWeight('w_average', [this.classes, shapes[0]![1]!], 'float32', tf.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const [w, label] = (Array.isArray(inputs) ? inputs : [inputs]) as [tf.Tensor, tf.Tensor | undefined];
    if (kwargs.training === true) {
      this.track(w, label);
      return tf.clone(w);
    }
    if (this.psi === 1) return tf.clone(w);
    return tf.tidy(() => {
      const average = this.averageFor(label); // [B or 1, wDim]
      return tf.add(average, tf.mul(tf.sub(w, average), this.psi));
    });
  }

  /** w̄ (the row of each sample's class when conditional). */
  private averageFor(label: tf.Tensor | undefined): tf.Tensor {
    const average = this.average!.read();
    if (label === undefined) return average;
    return tf.gather(average, tf.cast(tf.reshape(label, [-1]), 'int32'));
  }

  /** w̄_k ← mean_k + β·(w̄_k − mean_k) for every class k present in the batch (mean_k: its samples' mean w). */
  private track(w: tf.Tensor, label: tf.Tensor | undefined): void {
    // Written inside the tidy: the variable takes the new value's data, the intermediates are freed.
    tf.tidy(() => {
      const batchW = w;
      const average = this.average!.read();
      const oneHot = label === undefined
        ? tf.ones([batchW.shape[0], 1])
        : tf.oneHot(tf.cast(tf.reshape(label, [-1]), 'int32'), this.classes).toFloat(); // [B, K]
      const counts = tf.sum(oneHot, 0); // [K]
      const sums = tf.matMul(oneHot, batchW, true, false); // [K, wDim]
      const means = tf.div(sums, tf.reshape(tf.maximum(counts, 1), [-1, 1]));
      const moved = tf.add(means, tf.mul(tf.sub(average, means), this.decay));
      this.average!.write(tf.where(tf.reshape(tf.greater(counts, 0), [-1, 1]).tile([1, average.shape[1]!]), moved, average));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), classes: this.classes, decay: this.decay };
  }
}
tf.serialization.registerClass(WSpaceTruncation);
