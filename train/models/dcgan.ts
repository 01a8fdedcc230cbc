// Deep convolutional GAN (Radford et al. 2016; layout of PyTorch-GAN's dcgan/dcgan.py and the PyTorch DCGAN example,
// whose k4 s2 pad-1 convolutions have the same shapes and padding as tfjs's k4 s2 'same'). The generator projects z to
// a small base grid and doubles it stage by stage; the discriminator mirrors it. Sizes come from the image shape: the
// base is H/2^stages with stages chosen so it is 4..7 (28 → 7, 32 → 4, 64 → 4). The trunks are shared with cdcgan.ts.

import * as tf from '@tensorflow/tfjs';
import { appendMinibatchStddev, discriminatorConv2d, discriminatorDense, discriminatorOptionDefaults, validateDiscriminatorOptions, type DiscriminatorOptions } from './discriminator-options.ts';
import { LATENT_INPUT, SeedSequence, type BuildContext, type GanFamily } from './family.ts';

export interface DcganConfig extends DiscriminatorOptions {
  /** Channels of the generator's base grid (its widest layer); each stage halves them. Default 128. */
  generatorChannels: number;
  /** Channels of the discriminator's first convolution; each stage doubles them. Default 64. */
  discriminatorChannels: number;
  /** Square kernel of every (transposed) convolution. Default 4 (the DCGAN reference; even, so 'same' pads evenly at stride 2). */
  kernelSize: number;
  /** LeakyReLU slope of the discriminator (the generator uses ReLU, as in the reference). Default 0.2. */
  leakySlope: number;
  /** BatchNorm momentum of the moving statistics (see MlpConfig: tfjs keeps momentum·old + (1 − momentum)·batch). Default 0.9. */
  batchNormMomentum: number;
  /**
   * Normalisation after the discriminator's convolutions but the first. Default 'none' (the benchmark reference; also
   * what a gradient-penalty loss needs, since BatchNorm couples the samples of a batch); 'batch' as in the DCGAN paper;
   * 'layer' normalises each sample over height, width and channels (WGAN-GP's recommendation for its critic).
   */
  discriminatorNorm: 'none' | 'batch' | 'layer';
  /**
   * How the generator doubles its grid. Default 'transpose' (Conv2DTranspose stride 2, the reference); 'resize' is a
   * nearest UpSampling2D followed by a stride-1 Conv2D 'same', which avoids transposed convolutions' checkerboard.
   */
  upsampling: 'transpose' | 'resize';
}

export const dcganDefaults: Readonly<DcganConfig> = Object.freeze({
  generatorChannels: 128,
  discriminatorChannels: 64,
  kernelSize: 4,
  leakySlope: 0.2,
  batchNormMomentum: 0.9,
  discriminatorNorm: 'none',
  upsampling: 'transpose',
  ...discriminatorOptionDefaults,
});

/** Largest and smallest side of the base grid the generator starts from. */
const BASE_MAX = 7;
const BASE_MIN = 4;

/** The base grid and number of doubling stages for an image shape; a RangeError naming the shape when none fits. */
export function convStages(imageShape: readonly [number, number, number], family: string): { stages: number; baseHeight: number; baseWidth: number } {
  const [height, width] = imageShape;
  let stages = 1;
  while (Math.max(height, width) / 2 ** stages > BASE_MAX) stages++;
  const scale = 2 ** stages;
  const fits = height % scale === 0 && width % scale === 0 && Math.max(height, width) / scale >= BASE_MIN;
  if (!fits) {
    throw new RangeError(
      `family '${family}' cannot build ${imageShape.join('×')} images: height and width must be a base of ${BASE_MIN}..${BASE_MAX} ` +
      `doubled at least once (e.g. 8, 14, 28, 32, 64; the smaller side divisible by the same power of 2), got ${height}×${width}`,
    );
  }
  return { stages, baseHeight: height / scale, baseWidth: width / scale };
}

/** Checks the fields the type check in resolveFamilyConfig cannot (ranges and literal unions). */
export function validateDcganConfig(config: DcganConfig, family: string): void {
  for (const key of ['generatorChannels', 'discriminatorChannels', 'kernelSize'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`family '${family}' config '${key}' must be an integer ≥ 1, got ${value}`);
  }
  if (!(config.leakySlope >= 0 && config.leakySlope < 1)) throw new RangeError(`family '${family}' config 'leakySlope' must be in [0, 1), got ${config.leakySlope}`);
  if (!(config.batchNormMomentum >= 0 && config.batchNormMomentum < 1)) {
    throw new RangeError(`family '${family}' config 'batchNormMomentum' must be in [0, 1), got ${config.batchNormMomentum}`);
  }
  if (config.discriminatorNorm !== 'none' && config.discriminatorNorm !== 'batch' && config.discriminatorNorm !== 'layer') {
    throw new RangeError(`family '${family}' config 'discriminatorNorm' must be 'none', 'batch' or 'layer', got ${JSON.stringify(config.discriminatorNorm)}`);
  }
  if (config.upsampling !== 'transpose' && config.upsampling !== 'resize') {
    throw new RangeError(`family '${family}' config 'upsampling' must be 'transpose' or 'resize', got ${JSON.stringify(config.upsampling)}`);
  }
  validateDiscriminatorOptions(config, family);
}

/** N(0, 0.02) as in the DCGAN paper, seeded per layer. */
function dcganInit(seeds: SeedSequence): ReturnType<typeof tf.initializers.randomNormal> {
  return dcganNormal(seeds.take());
}

function dcganNormal(seed: number): ReturnType<typeof tf.initializers.randomNormal> {
  return tf.initializers.randomNormal({ mean: 0, stddev: 0.02, seed });
}

/** [B, in] → Dense → base grid → stages of ×2 upsampling → tanh → [B, H, W, C]. */
export function dcganGeneratorTrunk(input: tf.SymbolicTensor, config: DcganConfig, context: BuildContext, seeds: SeedSequence, family: string): tf.SymbolicTensor {
  validateDcganConfig(config, family);
  const { stages, baseHeight, baseWidth } = convStages(context.imageShape, family);
  const channels = context.imageShape[2];
  const top = config.generatorChannels;
  const bn = (name: string) => tf.layers.batchNormalization({ momentum: config.batchNormMomentum, name });
  // The Dense and the convolutions before a BatchNorm have no bias: BN subtracts the mean and would cancel it.
  let h = tf.layers.dense({ units: baseHeight * baseWidth * top, useBias: false, kernelInitializer: dcganInit(seeds), name: 'g_project' })
    .apply(input) as tf.SymbolicTensor; // [B, in] → [B, h0·w0·top]   (28×28: [B, 6272])
  h = bn('g_project_bn').apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ name: 'g_project_relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.reshape({ targetShape: [baseHeight, baseWidth, top], name: 'g_base' }).apply(h) as tf.SymbolicTensor; // [B, h0, w0, top]   (28×28: [B, 7, 7, 128])
  for (let i = 0; i < stages; i++) {
    const last = i === stages - 1;
    const filters = last ? channels : Math.max(1, Math.floor(top / 2 ** (i + 1)));
    const conv = { filters, kernelSize: config.kernelSize, padding: 'same' as const, useBias: last, kernelInitializer: dcganInit(seeds), biasInitializer: 'zeros' as const };
    if (config.upsampling === 'transpose') {
      h = tf.layers.conv2dTranspose({ ...conv, strides: 2, name: `g_deconv_${i}` }).apply(h) as tf.SymbolicTensor; // [B, h, w, c] → [B, 2h, 2w, c/2 (C last)]   (28×28: 7→14 ×64, 14→28 ×1)
    } else {
      h = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: `g_upsample_${i}` }).apply(h) as tf.SymbolicTensor; // [B, 2h, 2w, c]
      h = tf.layers.conv2d({ ...conv, strides: 1, name: `g_conv_${i}` }).apply(h) as tf.SymbolicTensor; // [B, 2h, 2w, c/2 (C last)]
    }
    if (last) break;
    h = bn(`g_bn_${i}`).apply(h) as tf.SymbolicTensor;
    h = tf.layers.reLU({ name: `g_relu_${i}` }).apply(h) as tf.SymbolicTensor;
  }
  return tf.layers.activation({ activation: 'tanh', name: 'g_tanh' }).apply(h) as tf.SymbolicTensor; // [B, H, W, C] in [-1, 1]
}

/** φ(x): image [B, H, W, C] → stride-2 convolutions with LeakyReLU → flattened features [B, h0·w0·last channels]. */
export function dcganDiscriminatorFeatures(image: tf.SymbolicTensor, config: DcganConfig, context: BuildContext, seeds: SeedSequence, family: string): tf.SymbolicTensor {
  validateDcganConfig(config, family);
  const { stages } = convStages(context.imageShape, family);
  let h = image;
  for (let i = 0; i < stages; i++) {
    // No norm on the first layer (as in the DCGAN paper): normalising the raw pixels' response slows D down.
    const norm = i > 0 && config.discriminatorNorm !== 'none';
    h = discriminatorConv2d({
      filters: config.discriminatorChannels * 2 ** i, kernelSize: config.kernelSize, strides: 2, padding: 'same', useBias: !norm, name: `d_conv_${i}`,
    }, seeds, config.spectralNorm, dcganNormal).apply(h) as tf.SymbolicTensor; // [B, h, w, c] → [B, h/2, w/2, 64·2^i]   (28×28: 28→14 ×64, 14→7 ×128)
    if (norm && config.discriminatorNorm === 'batch') h = tf.layers.batchNormalization({ momentum: config.batchNormMomentum, name: `d_bn_${i}` }).apply(h) as tf.SymbolicTensor;
    // Per-sample statistics over [H, W, C], so the samples of a batch stay independent (a gradient penalty needs that).
    if (norm && config.discriminatorNorm === 'layer') h = tf.layers.layerNormalization({ axis: [1, 2, 3], name: `d_ln_${i}` }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: config.leakySlope, name: `d_lrelu_${i}` }).apply(h) as tf.SymbolicTensor;
  }
  h = appendMinibatchStddev(h, config); // [B, h0, w0, c (+ 1 with minibatchStddev)]
  return tf.layers.flatten({ name: 'd_flatten' }).apply(h) as tf.SymbolicTensor; // [B, h0·w0·c]   (28×28: [B, 6272]; 6321 with minibatchStddev)
}

/** ψ: features [B, n] → one logit [B, 1] (no sigmoid: the losses take logits); spectrally normalised with `spectral`. */
export function dcganLogit(features: tf.SymbolicTensor, seeds: SeedSequence, spectral = false): tf.SymbolicTensor {
  return discriminatorDense(1, seeds, 'd_logit', spectral, dcganNormal).apply(features) as tf.SymbolicTensor; // [B, 1]
}

export function buildDcganGenerator(config: DcganConfig, context: BuildContext): tf.LayersModel {
  const seeds = new SeedSequence(context.seed);
  const z = tf.input({ shape: [context.latentDim], name: LATENT_INPUT }); // [B, latentDim]
  return tf.model({ inputs: z, outputs: dcganGeneratorTrunk(z, config, context, seeds, 'dcgan'), name: 'generator' });
}

export function buildDcganDiscriminator(config: DcganConfig, context: BuildContext): tf.LayersModel {
  const seeds = new SeedSequence(context.seed ^ 0x5bd1e995);
  const image = tf.input({ shape: context.imageShape, name: 'image' }); // [B, H, W, C]
  const features = dcganDiscriminatorFeatures(image, config, context, seeds, 'dcgan');
  return tf.model({ inputs: image, outputs: dcganLogit(features, seeds, config.spectralNorm), name: 'discriminator' });
}

export const dcganFamily: GanFamily<DcganConfig> = {
  name: 'dcgan',
  summary: 'deep convolutional GAN (G Dense → base grid → ×2 transposed convs with BatchNorm/ReLU; D stride-2 convs), unconditional',
  conditional: false,
  defaults: dcganDefaults,
  buildGenerator: buildDcganGenerator,
  buildDiscriminator: buildDcganDiscriminator,
};
