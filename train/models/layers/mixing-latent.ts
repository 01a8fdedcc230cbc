// The second latent z₂ of style mixing: in training a fresh N(0, 1) batch shaped like z (seeded per call); at
// inference z itself, so the second mapping branch merely repeats the first and StyleMixing discards it. Being a
// layer keeps the generator a plain functional model with the family's usual inputs (z, label). The exported graph
// takes z₂ as an input of its own (`mix_z`, export/ops/mixing-latent.ts); `inferenceLatent` is its tfjs counterpart,
// set by the export's parity check.

import * as tf from '@tensorflow/tfjs';
import { CallSeeds } from './layer-random.ts';

export interface MixingLatentArgs {
  /** Seed of the training draws. */
  seed: number;
  name?: string;
}

export class MixingLatent extends tf.layers.Layer {
  static className = 'MixingLatent';
  readonly seed: number;
  readonly callSeeds: CallSeeds;
  /** z₂ at inference; null = z. Not part of the config (the served model takes z₂ as an input). */
  inferenceLatent: tf.Tensor | null = null;

  constructor(args: MixingLatentArgs) {
    super(args);
    this.seed = args.seed;
    this.callSeeds = new CallSeeds(args.seed);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const z = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (kwargs.training !== true) return tf.clone(this.inferenceLatent ?? z);
    return tf.randomNormal(z.shape, 0, 1, 'float32', this.callSeeds.next());
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(MixingLatent);
