// The contract every GAN family implements, so the trainer, the checkpoint sidecar and the exporter treat all families
// alike. Generators are tfjs-layers functional models restricted to the layers the ONNX exporter maps (see the list in
// GENERATOR_LAYERS); discriminators never leave training, so they may use any layer.

import type * as tf from '@tensorflow/tfjs';

/** Layer classes a generator may use: the exporter has an ONNX mapping for each (InputLayer is the graph input). */
export const GENERATOR_LAYERS: readonly string[] = Object.freeze([
  'InputLayer', 'Dense', 'BatchNormalization', 'LeakyReLU', 'ReLU', 'Activation', 'Reshape', 'Flatten', 'Dropout',
  'Embedding', 'Concatenate', 'Multiply', 'Add', 'Conv2D', 'Conv2DTranspose', 'UpSampling2D', 'ZeroPadding2D', 'Cropping2D',
  'LayerNormalization',
  // stylegan-lite's own layers (train/models/layers/), each with a converter in export/ops/.
  'PixelNorm', 'ConstantInput', 'NoiseInjection', 'AdaptiveInstanceNorm', 'WSpaceTruncation', 'StyleMixing', 'MixingLatent',
]);

/** Names of the generator's inputs (the exporter and the sidecar use these). */
export const LATENT_INPUT = 'z';
export const LABEL_INPUT = 'label';
/** ONNX-only input of a w-space generator: ψ per image, float32 [batch, 1] (the tfjs model has no such input). */
export const TRUNCATION_INPUT = 'truncation';
/** ONNX-only inputs of a style-mixing generator: the second latent z₂, float32 [batch, latentDim], and per image the
 * first synthesis layer that takes z₂'s style, float32 [batch, 1] (≥ the layer count: no mixing). */
export const MIX_LATENT_INPUT = 'mix_z';
export const MIX_CROSSOVER_INPUT = 'mix_from';

/** What a builder needs to know about the data and the run; sizes come from the dataset, never from constants. */
export interface BuildContext {
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  /** Number of classes for a conditional family; null when the dataset has no labels. */
  numClasses: number | null;
  /** Width of the latent input z. */
  latentDim: number;
  /** Seed for the weight initialisers; each layer derives its own from it. */
  seed: number;
}

export interface GanFamily<Config extends object = Record<string, unknown>> {
  name: string;
  /** One line for `--help` and the README. */
  summary: string;
  /** True when the generator takes a class label as a second input (and the discriminator too, unless auxiliaryClassifier). */
  conditional: boolean;
  /**
   * AC-GAN style (conditional families only): the discriminator takes the image alone and returns [logit [B, 1], class
   * logits [B, numClasses]]; the trainer adds the class loss, weighted by the config's numeric `classLossWeight`
   * field, to both sides' losses. Default false.
   */
  auxiliaryClassifier?: boolean;
  /**
   * What trains the pair. Default 'adversarial': the GAN loop (train/gan-stepper.ts). 'variational': a VAE
   * (train/vae-trainer.ts), whose generator is the decoder and whose discriminator slot holds the encoder, image (+ label)
   * → [μ [B, latentDim], log σ² [B, latentDim]].
   */
  objective?: 'adversarial' | 'variational';
  /** The family's config with every field set. */
  defaults: Readonly<Config>;
  /** Generator: z [B, latentDim] (+ label [B, 1] int32 when conditional) → image [B, H, W, C] in [-1, 1] (tanh). */
  buildGenerator(config: Config, context: BuildContext): tf.LayersModel;
  /**
   * Discriminator: image [B, H, W, C] (+ label [B, 1]) → one logit [B, 1] (no sigmoid: the losses take logits); with
   * auxiliaryClassifier, image → [logit [B, 1], class logits [B, numClasses]].
   */
  buildDiscriminator(config: Config, context: BuildContext): tf.LayersModel;
}

/** Hands out distinct initialiser seeds layer by layer, so a model's weights depend on the run seed only. */
export class SeedSequence {
  private next: number;
  constructor(seed: number) {
    this.next = seed >>> 0;
  }
  take(): number {
    this.next = (this.next + 0x9e3779b9) >>> 0;
    return this.next;
  }
}
