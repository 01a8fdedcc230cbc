// An exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019): a second
// generator, same architecture, whose weights trail the trained one as w_ema ← d·w_ema + (1 − d)·w after every G
// update. The average smooths out the oscillation of adversarial training, so its samples are usually better than the
// last iterate's; when on, it is the generator the trainer samples, the checkpoint keeps and `ganforge export` exports.
//
// BatchNorm moving statistics are copied from the trained generator after each update rather than averaged (as
// StyleGAN2-ADA's training loop copies buffers): they already are a moving average, and averaging them again would make
// them lag the averaged weights further. They remain statistics of the trained generator's activations, not of the
// average's (BigGAN recomputes "standing statistics" for that; not done here).

import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../../common/errors.ts';
import type { TechniqueContext, TechniqueKind, TrainingTechnique } from './technique.ts';

/** The EMA generator's model name (also the checkpoint folder it is saved in). */
export const GENERATOR_EMA = 'generator-ema';

/** A new model with `generator`'s architecture and a copy of its weights (trainable and moving statistics). */
export function cloneGenerator(generator: tf.LayersModel): tf.LayersModel {
  // fromConfig is synchronous (tf.models.modelFromJSON is not) and keeps layer and weight names.
  const clone = tf.LayersModel.fromConfig(tf.LayersModel, generator.getConfig()) as tf.LayersModel;
  copyWeights(generator.weights, clone.weights);
  return clone;
}

function copyWeights(from: readonly tf.LayerVariable[], to: readonly tf.LayerVariable[]): void {
  tf.tidy(() => {
    for (let i = 0; i < from.length; i++) to[i]!.write(tf.clone(from[i]!.read()));
  });
}

/** Checks that `average` has `generator`'s weights, name for name and shape for shape (a restored EMA from another run would not). */
function assertSameArchitecture(generator: tf.LayersModel, average: tf.LayersModel): void {
  const describe = (m: tf.LayersModel) => m.weights.map((w) => `${w.originalName}${w.trainable ? '' : '(frozen)'}:${w.shape.join('×')}`).join(', ');
  const expected = describe(generator);
  const got = describe(average);
  if (expected !== got) {
    throw new InvalidParameterError('generatorEma', `the restored EMA generator's weights (${got}) do not match the generator's (${expected})`);
  }
}

export class GeneratorEma implements TrainingTechnique {
  readonly name = 'generator-ema';
  /** The averaged generator (sampled and exported). */
  readonly average: tf.LayersModel;
  readonly decay: number;
  private readonly generator: tf.LayersModel;

  /** `restored`: an average loaded from a checkpoint, continued as is; otherwise the average starts as a copy of G. */
  constructor(decay: number, generator: tf.LayersModel, restored?: tf.LayersModel) {
    if (typeof decay !== 'number' || !(decay > 0 && decay < 1)) {
      throw new InvalidParameterError('generatorEma', `'generatorEma' is the decay d of w_ema ← d·w_ema + (1 − d)·w and must be in (0, 1), e.g. 0.999, got ${String(decay)}`);
    }
    this.decay = decay;
    this.generator = generator;
    if (restored) assertSameArchitecture(generator, restored);
    this.average = restored ?? cloneGenerator(generator);
  }

  afterGeneratorUpdate(): void {
    const d = this.decay;
    const source = this.generator.weights;
    const target = this.average.weights;
    tf.tidy(() => {
      for (let i = 0; i < source.length; i++) {
        const w = source[i]!.read();
        // w_ema ← d·w_ema + (1 − d)·w; moving statistics (non-trainable) are copied, see the header.
        target[i]!.write(source[i]!.trainable ? tf.add(tf.mul(target[i]!.read(), d), tf.mul(w, 1 - d)) : tf.clone(w));
      }
    });
  }

  samplingGenerator(): tf.LayersModel {
    return this.average;
  }

  dispose(): void {
    this.average.dispose();
  }
}

export const generatorEmaTechnique: TechniqueKind<number> = {
  name: 'generator-ema',
  summary: 'exponential moving average of G\'s weights (decay d); the average is sampled, checkpointed and exported',
  create: (decay: number, context: TechniqueContext) => new GeneratorEma(decay, context.generator, context.restoredGeneratorEma),
};
