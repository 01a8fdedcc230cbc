// The classic MLP GAN (Goodfellow et al. 2014, layer sizes as in PyTorch-GAN's gan/gan.py): fully connected generator
// and discriminator on flattened images. Small, fast on CPU/wasm, and every generator layer maps to ONNX.

import * as tf from '@tensorflow/tfjs';
import { appendMinibatchStddev, discriminatorDense, discriminatorOptionDefaults, validateDiscriminatorOptions, type DiscriminatorOptions } from './discriminator-options.ts';
import { LATENT_INPUT, SeedSequence, type BuildContext, type GanFamily } from './family.ts';

export interface MlpConfig extends DiscriminatorOptions {
  /** Generator hidden widths, first to last. Default [256, 512, 1024]. */
  generatorUnits: number[];
  /** Discriminator hidden widths, first to last. Default [512, 256]. */
  discriminatorUnits: number[];
  /** LeakyReLU slope for both networks. Default 0.2. */
  leakySlope: number;
  /**
   * BatchNorm momentum of the generator's moving statistics. Default 0.9: tfjs's 0.99 averages over ~100 steps and lags
   * a generator that changes every step, so inference-mode samples (what the ONNX export computes) drift from training.
   */
  batchNormMomentum: number;
}

export const mlpDefaults: Readonly<MlpConfig> = Object.freeze({
  generatorUnits: [256, 512, 1024],
  discriminatorUnits: [512, 256],
  leakySlope: 0.2,
  batchNormMomentum: 0.9,
  ...discriminatorOptionDefaults,
});

export function buildMlpGenerator(config: MlpConfig, context: BuildContext): tf.LayersModel {
  const seeds = new SeedSequence(context.seed);
  const z = tf.input({ shape: [context.latentDim], name: LATENT_INPUT }); // [B, latentDim]
  return tf.model({ inputs: z, outputs: mlpGeneratorTrunk(z, config, context, seeds), name: 'generator' });
}

/** The generator trunk every MLP family shares: [B, in] → dense blocks → tanh → [B, H, W, C]. */
export function mlpGeneratorTrunk(
  input: tf.SymbolicTensor,
  config: { generatorUnits: number[]; leakySlope: number; batchNormMomentum: number },
  context: BuildContext,
  seeds: SeedSequence,
): tf.SymbolicTensor {
  const [height, width, channels] = context.imageShape;
  let h = input;
  config.generatorUnits.forEach((units, i) => {
    h = denseLayer(units, seeds, `g_dense_${i}`).apply(h) as tf.SymbolicTensor; // [B, units]
    // No BatchNorm on the first block (as in PyTorch-GAN): normalising the raw latent projection slows early training.
    if (i > 0) h = tf.layers.batchNormalization({ momentum: config.batchNormMomentum, name: `g_bn_${i}` }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: config.leakySlope, name: `g_lrelu_${i}` }).apply(h) as tf.SymbolicTensor;
  });
  h = denseLayer(height * width * channels, seeds, 'g_dense_out').apply(h) as tf.SymbolicTensor; // [B, H·W·C]
  h = tf.layers.activation({ activation: 'tanh', name: 'g_tanh' }).apply(h) as tf.SymbolicTensor;
  return tf.layers.reshape({ targetShape: [height, width, channels], name: 'g_image' }).apply(h) as tf.SymbolicTensor; // [B, H, W, C]
}

export function buildMlpDiscriminator(config: MlpConfig, context: BuildContext): tf.LayersModel {
  const seeds = new SeedSequence(context.seed ^ 0x5bd1e995);
  const image = tf.input({ shape: context.imageShape, name: 'image' }); // [B, H, W, C]
  validateDiscriminatorOptions(config, 'mlp');
  const flat = tf.layers.flatten({ name: 'd_flatten' }).apply(image) as tf.SymbolicTensor; // [B, H·W·C]
  const h = appendMinibatchStddev(mlpDiscriminatorTrunk(flat, { ...config, discriminatorDropout: 0 }, seeds), config); // [B, last units (+ 1)]
  const logit = discriminatorDense(1, seeds, 'd_logit', config.spectralNorm).apply(h) as tf.SymbolicTensor; // [B, 1]
  return tf.model({ inputs: image, outputs: logit, name: 'discriminator' });
}

/** The discriminator trunk every MLP family shares: dense blocks with LeakyReLU, dropout after all but the first. */
export function mlpDiscriminatorTrunk(
  input: tf.SymbolicTensor,
  config: { discriminatorUnits: number[]; discriminatorDropout: number; leakySlope: number; spectralNorm: boolean },
  seeds: SeedSequence,
): tf.SymbolicTensor {
  let h = input;
  config.discriminatorUnits.forEach((units, i) => {
    h = discriminatorDense(units, seeds, `d_dense_${i}`, config.spectralNorm).apply(h) as tf.SymbolicTensor; // [B, units]
    if (i > 0 && config.discriminatorDropout > 0) h = tf.layers.dropout({ rate: config.discriminatorDropout, name: `d_dropout_${i}` }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: config.leakySlope, name: `d_lrelu_${i}` }).apply(h) as tf.SymbolicTensor;
  });
  return h;
}

/** A Dense layer with a seeded Glorot-uniform kernel and zero bias. */
export function denseLayer(units: number, seeds: SeedSequence, name: string): tf.layers.Layer {
  return tf.layers.dense({ units, name, kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.take() }), biasInitializer: 'zeros' });
}

export const mlpFamily: GanFamily<MlpConfig> = {
  name: 'mlp',
  summary: 'classic fully connected GAN (G 256-512-1024, D 512-256), unconditional',
  conditional: false,
  defaults: mlpDefaults,
  buildGenerator: buildMlpGenerator,
  buildDiscriminator: buildMlpDiscriminator,
};
