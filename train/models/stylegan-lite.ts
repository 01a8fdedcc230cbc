// A small style-based generator (Karras et al. 2019, StyleGAN v1's architecture at MNIST/CIFAR size): a mapping
// network z → w (pixel norm, then Dense + LeakyReLU), a learned constant base grid, and per synthesis layer an AdaIN
// modulation from w with a noise input before it; style mixing regularises training; the mean w is tracked for
// truncation in w space. Registered twice, as dcgan/cdcgan are: 'stylegan-lite' (z → image) and 'cstylegan-lite'
// (z, label → image, the label embedding concatenated to z before the mapping, the mean w tracked per class, and
// dcgan's projection discriminator). Two families rather than a config flag because conditionality is a family fact
// the trainer, the sidecar and the server read from the registry. The discriminator is dcgan's.
//
// Layout at 28×28 (base 7, two doublings, L = 4 styles), widths for the defaults (wDim 64, synthesisChannels 64):
//   z [B, d] → PixelNorm → (⊕ PixelNorm(embed(y)) [B, e]) → 3 × (Dense 64, LeakyReLU 0.2) → w [B, 64]
//   w → WSpaceTruncation (w̄ tracked; ψ at inference) ──┐
//   z₂ = MixingLatent(z) → same mapping → w₂ → same WSpaceTruncation ┴→ StyleMixing → styles [B, L, 64]
//   ConstantInput [B, 7, 7, 64] → Noise → LeakyReLU → AdaIN(style 0) → Conv 3×3 64 → Noise → LeakyReLU → AdaIN(1)
//   → UpSampling ×2 → Conv 3×3 32 → Noise → LeakyReLU → AdaIN(2)  [B, 14, 14, 32]
//   → UpSampling ×2 → Conv 3×3 16 → Noise → LeakyReLU → AdaIN(3)  [B, 28, 28, 16]
//   → Conv 1×1 C (toRGB) → tanh                                   [B, 28, 28, C]

import * as tf from '@tensorflow/tfjs';
import { addProjection, classCount } from './cgan.ts';
import { convStages, dcganDefaults, dcganDiscriminatorFeatures, dcganLogit, type DcganConfig } from './dcgan.ts';
import { LABEL_INPUT, LATENT_INPUT, SeedSequence, type BuildContext, type GanFamily } from './family.ts';
import { AdaptiveInstanceNorm } from './layers/adaptive-instance-norm.ts';
import { ConstantInput } from './layers/constant-input.ts';
import { MixingLatent } from './layers/mixing-latent.ts';
import { NoiseInjection } from './layers/noise-injection.ts';
import { PixelNorm } from './layers/pixel-norm.ts';
import { StyleMixing } from './layers/style-mixing.ts';
import { WSpaceTruncation } from './layers/w-space-truncation.ts';

export interface StyleganLiteConfig {
  /** Width of w and of every mapping layer. Default 64. */
  wDim: number;
  /** Dense + LeakyReLU layers of the mapping network (StyleGAN: 8; small data needs fewer). Default 3. */
  mappingLayers: number;
  /** Channels of the constant base grid and its two layers; each doubling halves them. Default 64. */
  synthesisChannels: number;
  /** Probability that a training sample mixes two styles (0 = off). Default 0.9 (StyleGAN's). */
  styleMixingProbability: number;
  /** EMA decay of the tracked mean w per generator training call. Default 0.995 (StyleGAN2's). */
  wAverageDecay: number;
  /** Conditional family: width of the label embedding concatenated to z; 0 = the number of classes. Default 16. */
  embeddingDim: number;
  /** LeakyReLU slope of both networks. Default 0.2. */
  leakySlope: number;
  /** Channels of the discriminator's first convolution (dcgan's discriminator). Default 64. */
  discriminatorChannels: number;
  /** Normalisation in the discriminator, as dcgan's. Default 'none'. */
  discriminatorNorm: 'none' | 'batch' | 'layer';
}

export const styleganLiteDefaults: Readonly<StyleganLiteConfig> = Object.freeze({
  wDim: 64,
  mappingLayers: 3,
  synthesisChannels: 64,
  styleMixingProbability: 0.9,
  wAverageDecay: 0.995,
  embeddingDim: 16,
  leakySlope: 0.2,
  discriminatorChannels: 64,
  discriminatorNorm: 'none',
});

/** Number of per-layer styles (AdaIN layers) for an image shape: two at the base grid, one per doubling. */
export function styleCount(imageShape: readonly [number, number, number], family: string): number {
  return 2 + convStages(imageShape, family).stages;
}

function validate(config: StyleganLiteConfig, family: string): void {
  for (const key of ['wDim', 'mappingLayers', 'synthesisChannels', 'discriminatorChannels'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`family '${family}' config '${key}' must be an integer ≥ 1, got ${value}`);
  }
  if (!Number.isInteger(config.embeddingDim) || config.embeddingDim < 0) {
    throw new RangeError(`family '${family}' config 'embeddingDim' must be an integer ≥ 0, got ${config.embeddingDim}`);
  }
  if (!(config.styleMixingProbability >= 0 && config.styleMixingProbability <= 1)) {
    throw new RangeError(`family '${family}' config 'styleMixingProbability' must be in [0, 1], got ${config.styleMixingProbability}`);
  }
  if (!(config.wAverageDecay >= 0 && config.wAverageDecay < 1)) {
    throw new RangeError(`family '${family}' config 'wAverageDecay' must be in [0, 1), got ${config.wAverageDecay}`);
  }
  if (!(config.leakySlope >= 0 && config.leakySlope < 1)) throw new RangeError(`family '${family}' config 'leakySlope' must be in [0, 1), got ${config.leakySlope}`);
}

/** The mapping network's layers, built once and applied to z and to z₂ (shared weights). */
function mappingNetwork(config: StyleganLiteConfig, seeds: SeedSequence): (input: tf.SymbolicTensor, embedded: tf.SymbolicTensor | null) => tf.SymbolicTensor {
  const normZ = new PixelNorm({ name: 'g_map_norm_z' });
  const normLabel = new PixelNorm({ name: 'g_map_norm_label' });
  const concat = tf.layers.concatenate({ name: 'g_map_concat' });
  const layers = Array.from({ length: config.mappingLayers }, (_, i) => [
    tf.layers.dense({ units: config.wDim, kernelInitializer: tf.initializers.heNormal({ seed: seeds.take() }), biasInitializer: 'zeros', name: `g_map_dense_${i}` }),
    tf.layers.leakyReLU({ alpha: config.leakySlope, name: `g_map_lrelu_${i}` }),
  ] as const);
  return (z, embedded) => {
    let h = normZ.apply(z) as tf.SymbolicTensor; // [B, d]
    if (embedded !== null) h = concat.apply([h, normLabel.apply(embedded) as tf.SymbolicTensor]) as tf.SymbolicTensor; // [B, d + e]
    for (const [dense, act] of layers) h = act.apply(dense.apply(h)) as tf.SymbolicTensor; // [B, wDim]
    return h;
  };
}

function buildStyleGenerator(config: StyleganLiteConfig, context: BuildContext, family: string, conditional: boolean): tf.LayersModel {
  validate(config, family);
  const numClasses = conditional ? classCount(context, family) : null;
  const { stages, baseHeight, baseWidth } = convStages(context.imageShape, family);
  const styles = 2 + stages;
  const seeds = new SeedSequence(context.seed);
  const z = tf.input({ shape: [context.latentDim], name: LATENT_INPUT }); // [B, d]
  const label = conditional ? tf.input({ shape: [1], dtype: 'int32', name: LABEL_INPUT }) : null; // [B, 1]
  let embedded: tf.SymbolicTensor | null = null;
  if (label !== null) {
    const embedding = tf.layers.embedding({
      inputDim: numClasses!, outputDim: config.embeddingDim || numClasses!, name: 'g_label_embedding',
      embeddingsInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: seeds.take() }),
    });
    embedded = tf.layers.flatten({ name: 'g_label_flat' }).apply(embedding.apply(label)) as tf.SymbolicTensor; // [B, e]
  }
  const mapping = mappingNetwork(config, seeds);
  const w = mapping(z, embedded); // [B, wDim]
  const truncation = new WSpaceTruncation({ classes: numClasses ?? 1, decay: config.wAverageDecay, name: 'g_w_truncation' });
  const wTruncated = truncation.apply(label === null ? w : [w, label]) as tf.SymbolicTensor; // [B, wDim]
  const z2 = new MixingLatent({ seed: seeds.take(), name: 'g_mixing_latent' }).apply(z) as tf.SymbolicTensor; // [B, d]
  const w2 = mapping(z2, embedded); // [B, wDim]
  // The second style is truncated by the same layer, so a served mix (mix_z, mix_from) pulls both styles toward w̄ by
  // the same ψ, as StyleGAN's mixing figures do. In training both calls pass w through and move w̄ (w₂ is drawn from
  // the same distribution as w, so the tracked mean is the same; it just sees twice the samples per step).
  const w2Truncated = truncation.apply(label === null ? w2 : [w2, label]) as tf.SymbolicTensor; // [B, wDim]
  const styleStack = new StyleMixing({ styles, probability: config.styleMixingProbability, seed: seeds.take(), name: 'g_style_mixing' })
    .apply([wTruncated, w2Truncated]) as tf.SymbolicTensor; // [B, L, wDim]

  let styleIndex = 0;
  const modulate = (h: tf.SymbolicTensor, tag: string): tf.SymbolicTensor => {
    h = new NoiseInjection({ seed: seeds.take(), name: `g_noise_${tag}` }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: config.leakySlope, name: `g_lrelu_${tag}` }).apply(h) as tf.SymbolicTensor;
    return new AdaptiveInstanceNorm({ styleIndex: styleIndex++, seed: seeds.take(), name: `g_adain_${tag}` }).apply([h, styleStack]) as tf.SymbolicTensor;
  };
  const conv = (filters: number, kernelSize: number, name: string) => tf.layers.conv2d({
    filters, kernelSize, padding: 'same', kernelInitializer: tf.initializers.heNormal({ seed: seeds.take() }), biasInitializer: 'zeros', name,
  });

  const top = config.synthesisChannels;
  let h = new ConstantInput({ shape: [baseHeight, baseWidth, top], seed: seeds.take(), name: 'g_constant' }).apply(z) as tf.SymbolicTensor; // [B, h0, w0, top]
  h = modulate(h, 'base_0');
  h = conv(top, 3, 'g_conv_base').apply(h) as tf.SymbolicTensor; // [B, h0, w0, top]
  h = modulate(h, 'base_1');
  for (let i = 0; i < stages; i++) {
    const filters = Math.max(1, Math.floor(top / 2 ** (i + 1)));
    h = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: `g_upsample_${i}` }).apply(h) as tf.SymbolicTensor; // [B, 2h, 2w, c]
    h = conv(filters, 3, `g_conv_${i}`).apply(h) as tf.SymbolicTensor; // [B, 2h, 2w, c/2]
    h = modulate(h, `${i}`);
  }
  h = conv(context.imageShape[2], 1, 'g_to_image').apply(h) as tf.SymbolicTensor; // [B, H, W, C]
  const image = tf.layers.activation({ activation: 'tanh', name: 'g_tanh' }).apply(h) as tf.SymbolicTensor; // [B, H, W, C] in [-1, 1]
  return tf.model({ inputs: label === null ? z : [z, label], outputs: image, name: 'generator' });
}

/** dcgan's discriminator (with the projection term when conditional), configured from this family's fields. */
function buildStyleDiscriminator(config: StyleganLiteConfig, context: BuildContext, family: string, conditional: boolean): tf.LayersModel {
  validate(config, family);
  const numClasses = conditional ? classCount(context, family) : null;
  const dcgan: DcganConfig = { ...dcganDefaults, discriminatorChannels: config.discriminatorChannels, leakySlope: config.leakySlope, discriminatorNorm: config.discriminatorNorm };
  const seeds = new SeedSequence(context.seed ^ 0x5bd1e995);
  const image = tf.input({ shape: context.imageShape, name: 'image' }); // [B, H, W, C]
  const features = dcganDiscriminatorFeatures(image, dcgan, context, seeds, family); // [B, h0·w0·c]
  let logit = dcganLogit(features, seeds); // [B, 1]
  if (!conditional) return tf.model({ inputs: image, outputs: logit, name: 'discriminator' });
  const label = tf.input({ shape: [1], dtype: 'int32', name: LABEL_INPUT }); // [B, 1]
  logit = addProjection(logit, features, label, numClasses!, seeds); // [B, 1]
  return tf.model({ inputs: [image, label], outputs: logit, name: 'discriminator' });
}

export const styleganLiteFamily: GanFamily<StyleganLiteConfig> = {
  name: 'stylegan-lite',
  summary: 'style-based generator: mapping z → w, learned constant, AdaIN per layer, noise inputs, style mixing, w-space truncation; dcgan discriminator',
  conditional: false,
  defaults: styleganLiteDefaults,
  buildGenerator: (config, context) => buildStyleGenerator(config, context, 'stylegan-lite', false),
  buildDiscriminator: (config, context) => buildStyleDiscriminator(config, context, 'stylegan-lite', false),
};

export const cstyleganLiteFamily: GanFamily<StyleganLiteConfig> = {
  name: 'cstylegan-lite',
  summary: 'conditional stylegan-lite: label embedding concatenated to z before the mapping, mean w per class, projection discriminator',
  conditional: true,
  defaults: styleganLiteDefaults,
  buildGenerator: (config, context) => buildStyleGenerator(config, context, 'cstylegan-lite', true),
  buildDiscriminator: (config, context) => buildStyleDiscriminator(config, context, 'cstylegan-lite', true),
};
