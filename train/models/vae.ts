// The variational autoencoder (Kingma & Welling 2014) as a family, so checkpoints, export and serving treat its decoder
// like any generator: the decoder z (+ label) → image in [-1, 1] is the family's generator, and the encoder
// image (+ label) → [μ, log σ²] sits in the discriminator slot (checkpoint folder discriminator/), the one other
// network every checkpoint holds. The objective is 'variational', so trainGan hands the run to train/vae-trainer.ts.
// Registered twice, as dcgan/cdcgan are: 'vae' (unconditional) and 'cvae' (a label embedding into both networks).
//
// Architectures (config `architecture`): 'mlp' — fully connected both ways, no BatchNorm, so training-mode and
// inference-mode outputs agree; 'conv' — the dcgan trunks (stride-2 convolutions in, transposed convolutions out).

import * as tf from '@tensorflow/tfjs';
import { classCount, embedLabel } from './cgan.ts';
import { dcganDefaults, dcganDiscriminatorFeatures, dcganGeneratorTrunk, type DcganConfig } from './dcgan.ts';
import { LABEL_INPUT, LATENT_INPUT, SeedSequence, type BuildContext, type GanFamily } from './family.ts';
import { denseLayer } from './mlp.ts';

export interface VaeConfig {
  /** 'mlp' (fully connected) or 'conv' (the dcgan trunks). Default 'mlp'. */
  architecture: 'mlp' | 'conv';
  /** MLP: encoder hidden widths, first to last; the decoder uses them reversed. Default [512, 256]. */
  hiddenUnits: number[];
  /** conv: channels of the decoder's base grid (each ×2 stage halves them). Default 64. */
  decoderChannels: number;
  /** conv: channels of the encoder's first convolution (each stage doubles them). Default 32. */
  encoderChannels: number;
  /** β of β-VAE (Higgins et al. 2017): loss = reconstruction + β·KL. Default 1 (the plain ELBO). */
  beta: number;
  /**
   * Likelihood of a pixel given z. Default 'bernoulli': binary cross-entropy between the data and the decoder output
   * both mapped to [0, 1] (p = (y + 1)/2), as Kingma & Welling did for MNIST; 'gaussian': N(x; y, σ²) on [0, 1] pixels
   * with σ = gaussianStd, i.e. Σ (x − y)² / 2σ² (its constant log-normaliser left out).
   */
  reconstruction: 'bernoulli' | 'gaussian';
  /** σ of the 'gaussian' likelihood on [0, 1] pixels. Default 0.1. */
  gaussianStd: number;
  /** cvae: width of the label embedding fed to both networks. Default 16. */
  embeddingDim: number;
  /** LeakyReLU slope of the hidden layers. Default 0.2. */
  leakySlope: number;
}

export const vaeDefaults: Readonly<VaeConfig> = Object.freeze({
  architecture: 'mlp',
  hiddenUnits: [512, 256],
  decoderChannels: 64,
  encoderChannels: 32,
  beta: 1,
  reconstruction: 'bernoulli',
  gaussianStd: 0.1,
  embeddingDim: 16,
  leakySlope: 0.2,
});

/** Names of the encoder's two outputs. */
export const ENCODER_OUTPUTS = Object.freeze({ mean: 'mu', logVariance: 'log_var' });

/** Checks the fields the type check in resolveFamilyConfig cannot (ranges and literal unions). */
export function validateVaeConfig(config: VaeConfig, family: string): void {
  if (config.architecture !== 'mlp' && config.architecture !== 'conv') {
    throw new RangeError(`family '${family}' config 'architecture' must be 'mlp' or 'conv', got ${JSON.stringify(config.architecture)}`);
  }
  if (config.reconstruction !== 'bernoulli' && config.reconstruction !== 'gaussian') {
    throw new RangeError(`family '${family}' config 'reconstruction' must be 'bernoulli' or 'gaussian', got ${JSON.stringify(config.reconstruction)}`);
  }
  if (!(config.hiddenUnits.length > 0 && config.hiddenUnits.every((u) => Number.isInteger(u) && u >= 1))) {
    throw new RangeError(`family '${family}' config 'hiddenUnits' must be a non-empty list of integers ≥ 1, got ${JSON.stringify(config.hiddenUnits)}`);
  }
  for (const key of ['decoderChannels', 'encoderChannels', 'embeddingDim'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw new RangeError(`family '${family}' config '${key}' must be an integer ≥ 1, got ${config[key]}`);
  }
  if (!(config.beta >= 0) || !Number.isFinite(config.beta)) throw new RangeError(`family '${family}' config 'beta' must be a finite number ≥ 0, got ${config.beta}`);
  if (!(config.gaussianStd > 0) || !Number.isFinite(config.gaussianStd)) {
    throw new RangeError(`family '${family}' config 'gaussianStd' must be a positive finite number, got ${config.gaussianStd}`);
  }
  if (!(config.leakySlope >= 0 && config.leakySlope < 1)) throw new RangeError(`family '${family}' config 'leakySlope' must be in [0, 1), got ${config.leakySlope}`);
}

/** The dcgan trunks' config for the conv architecture (no norm in the encoder: it sees one batch of real images). */
function convConfig(config: VaeConfig): DcganConfig {
  return { ...dcganDefaults, generatorChannels: config.decoderChannels, discriminatorChannels: config.encoderChannels, leakySlope: config.leakySlope, discriminatorNorm: 'none' };
}

function buildDecoder(config: VaeConfig, context: BuildContext, family: string, conditional: boolean): tf.LayersModel {
  validateVaeConfig(config, family);
  const seeds = new SeedSequence(context.seed);
  const z = tf.input({ shape: [context.latentDim], name: LATENT_INPUT }); // [B, latentDim]
  const label = conditional ? tf.input({ shape: [1], name: LABEL_INPUT, dtype: 'int32' }) : null; // [B, 1]
  let h: tf.SymbolicTensor = z;
  if (label !== null) {
    const embedded = embedLabel(label, classCount(context, family), config.embeddingDim, seeds, 'g'); // [B, embeddingDim]
    h = tf.layers.concatenate({ name: 'g_condition' }).apply([z, embedded]) as tf.SymbolicTensor; // [B, latentDim + embeddingDim]
  }
  let image: tf.SymbolicTensor;
  if (config.architecture === 'conv') {
    image = dcganGeneratorTrunk(h, convConfig(config), context, seeds, family); // [B, H, W, C] in [-1, 1]
  } else {
    const [height, width, channels] = context.imageShape;
    [...config.hiddenUnits].reverse().forEach((units, i) => {
      h = denseLayer(units, seeds, `g_dense_${i}`).apply(h) as tf.SymbolicTensor; // [B, units]
      h = tf.layers.leakyReLU({ alpha: config.leakySlope, name: `g_lrelu_${i}` }).apply(h) as tf.SymbolicTensor;
    });
    h = denseLayer(height * width * channels, seeds, 'g_dense_out').apply(h) as tf.SymbolicTensor; // [B, H·W·C]
    h = tf.layers.activation({ activation: 'tanh', name: 'g_tanh' }).apply(h) as tf.SymbolicTensor;
    image = tf.layers.reshape({ targetShape: [height, width, channels], name: 'g_image' }).apply(h) as tf.SymbolicTensor; // [B, H, W, C]
  }
  return tf.model({ inputs: label === null ? z : [z, label], outputs: image, name: 'generator' });
}

function buildEncoder(config: VaeConfig, context: BuildContext, family: string, conditional: boolean): tf.LayersModel {
  validateVaeConfig(config, family);
  const seeds = new SeedSequence(context.seed ^ 0x5bd1e995);
  const image = tf.input({ shape: context.imageShape, name: 'image' }); // [B, H, W, C]
  const label = conditional ? tf.input({ shape: [1], name: LABEL_INPUT, dtype: 'int32' }) : null; // [B, 1]
  let h = config.architecture === 'conv'
    ? dcganDiscriminatorFeatures(image, convConfig(config), context, seeds, family) // [B, h0·w0·c]   (28×28: [B, 7·7·64])
    : tf.layers.flatten({ name: 'd_flatten' }).apply(image) as tf.SymbolicTensor; // [B, H·W·C]
  if (label !== null) {
    const embedded = embedLabel(label, classCount(context, family), config.embeddingDim, seeds, 'd'); // [B, embeddingDim]
    h = tf.layers.concatenate({ name: 'd_condition' }).apply([h, embedded]) as tf.SymbolicTensor;
  }
  if (config.architecture === 'mlp') {
    config.hiddenUnits.forEach((units, i) => {
      h = denseLayer(units, seeds, `d_dense_${i}`).apply(h) as tf.SymbolicTensor; // [B, units]
      h = tf.layers.leakyReLU({ alpha: config.leakySlope, name: `d_lrelu_${i}` }).apply(h) as tf.SymbolicTensor;
    });
  }
  // Two linear heads: the posterior q(z | x) = N(μ, diag σ²) with log σ² unconstrained (exp keeps σ² > 0).
  const mean = denseLayer(context.latentDim, seeds, ENCODER_OUTPUTS.mean).apply(h) as tf.SymbolicTensor; // [B, latentDim]
  const logVariance = denseLayer(context.latentDim, seeds, ENCODER_OUTPUTS.logVariance).apply(h) as tf.SymbolicTensor; // [B, latentDim]
  return tf.model({ inputs: label === null ? image : [image, label], outputs: [mean, logVariance], name: 'encoder' });
}

export const vaeFamily: GanFamily<VaeConfig> = {
  name: 'vae',
  summary: 'variational autoencoder (Kingma & Welling 2014; decoder = generator, encoder in the discriminator slot; --set architecture=conv), unconditional',
  conditional: false,
  objective: 'variational',
  defaults: vaeDefaults,
  buildGenerator: (config, context) => buildDecoder(config, context, 'vae', false),
  buildDiscriminator: (config, context) => buildEncoder(config, context, 'vae', false),
};

export const cvaeFamily: GanFamily<VaeConfig> = {
  name: 'cvae',
  summary: 'conditional VAE (label embedding into encoder and decoder), otherwise as vae',
  conditional: true,
  objective: 'variational',
  defaults: vaeDefaults,
  buildGenerator: (config, context) => buildDecoder(config, context, 'cvae', true),
  buildDiscriminator: (config, context) => buildEncoder(config, context, 'cvae', true),
};
