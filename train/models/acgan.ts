// Auxiliary-classifier GAN (Odena et al. 2017; PyTorch-GAN's acgan/acgan.py). The generator is conditioned like cgan's
// 'multiply' mode (a label embedding multiplied into z); the discriminator sees only the image and has two heads, the
// real/fake logit and class logits, so the label reaches G through a classification loss instead of through D's input.
// Bodies are MLPs rather than the reference's convolutions: on 2 CPU cores with wasm a conv step is ~50× slower, and
// every generator layer here maps to ONNX.

import * as tf from '@tensorflow/tfjs';
import { LABEL_INPUT, LATENT_INPUT, SeedSequence, type BuildContext, type GanFamily } from './family.ts';
import { embedLabel } from './cgan.ts';
import { appendMinibatchStddev, discriminatorDense, discriminatorOptionDefaults, validateDiscriminatorOptions, type DiscriminatorOptions } from './discriminator-options.ts';
import { mlpDiscriminatorTrunk, mlpGeneratorTrunk } from './mlp.ts';

export interface AcganConfig extends DiscriminatorOptions {
  /** Generator hidden widths, first to last. Default [128, 256, 512, 1024]. */
  generatorUnits: number[];
  /** Discriminator hidden widths shared by both heads, first to last. Default [512, 512, 256]. */
  discriminatorUnits: number[];
  /** Dropout rate after each discriminator hidden layer but the first (0.25 as in the reference; masks are not seeded). Default 0.25. */
  discriminatorDropout: number;
  /** Weight of the auxiliary class loss added to D's loss (real and fake images) and to G's loss (fakes). Default 1. */
  classLossWeight: number;
  /** LeakyReLU slope for both networks. Default 0.2. */
  leakySlope: number;
  /** BatchNorm momentum of the generator's moving statistics (see MlpConfig). Default 0.9. */
  batchNormMomentum: number;
}

export const acganDefaults: Readonly<AcganConfig> = Object.freeze({
  generatorUnits: [128, 256, 512, 1024],
  discriminatorUnits: [512, 512, 256],
  discriminatorDropout: 0.25,
  classLossWeight: 1,
  leakySlope: 0.2,
  batchNormMomentum: 0.9,
  ...discriminatorOptionDefaults,
});

/** Name of the discriminator's class-logits output layer (the second output). */
export const CLASS_LOGITS = 'd_class_logits';

function classCount(context: BuildContext): number {
  if (context.numClasses === null || context.numClasses < 2) {
    throw new RangeError(`family 'acgan' is conditional and needs a labelled dataset with at least 2 classes, got ${context.numClasses ?? 'no labels'}`);
  }
  return context.numClasses;
}

export function buildAcganGenerator(config: AcganConfig, context: BuildContext): tf.LayersModel {
  const numClasses = classCount(context);
  const seeds = new SeedSequence(context.seed);
  const z = tf.input({ shape: [context.latentDim], name: LATENT_INPUT }); // [B, latentDim]
  const label = tf.input({ shape: [1], dtype: 'int32', name: LABEL_INPUT }); // [B, 1]
  const flatLabel = embedLabel(label, numClasses, context.latentDim, seeds, 'g'); // [B, latentDim]
  const h = tf.layers.multiply({ name: 'g_condition' }).apply([z, flatLabel]) as tf.SymbolicTensor; // [B, latentDim]
  const image = mlpGeneratorTrunk(h, config, context, seeds); // [B, H, W, C]
  return tf.model({ inputs: [z, label], outputs: image, name: 'generator' });
}

/** image [B, H, W, C] → [logit [B, 1], class logits [B, numClasses]] (no sigmoid/softmax: the losses take logits). */
export function buildAcganDiscriminator(config: AcganConfig, context: BuildContext): tf.LayersModel {
  const numClasses = classCount(context);
  validateDiscriminatorOptions(config, 'acgan');
  const seeds = new SeedSequence(context.seed ^ 0x5bd1e995);
  const image = tf.input({ shape: context.imageShape, name: 'image' }); // [B, H, W, C]
  let h = tf.layers.flatten({ name: 'd_flatten' }).apply(image) as tf.SymbolicTensor; // [B, H·W·C]
  h = appendMinibatchStddev(mlpDiscriminatorTrunk(h, config, seeds), config); // [B, last units (+ 1 with minibatchStddev)]
  const logit = discriminatorDense(1, seeds, 'd_logit', config.spectralNorm).apply(h) as tf.SymbolicTensor; // [B, 1]
  const classLogits = discriminatorDense(numClasses, seeds, CLASS_LOGITS, config.spectralNorm).apply(h) as tf.SymbolicTensor; // [B, numClasses]
  return tf.model({ inputs: image, outputs: [logit, classLogits], name: 'discriminator' });
}

export const acganFamily: GanFamily<AcganConfig> = {
  name: 'acgan',
  summary: 'auxiliary-classifier GAN: label embedding multiplied into z (G); D sees only the image and also classifies it',
  conditional: true,
  auxiliaryClassifier: true,
  defaults: acganDefaults,
  buildGenerator: buildAcganGenerator,
  buildDiscriminator: buildAcganDiscriminator,
};
