// The custom tfjs layers of the style generator (stylegan-lite). Importing this file registers each with
// tf.serialization.registerClass, which tf.loadLayersModel needs to rebuild a saved generator that contains one; the
// checkpoint loader imports it, so `ganforge export` alone (without the family registry) reads a stylegan-lite run.

import { AdaptiveInstanceNorm } from './adaptive-instance-norm.ts';
import { ConstantInput } from './constant-input.ts';
import { MixingLatent } from './mixing-latent.ts';
import { NoiseInjection } from './noise-injection.ts';
import { PixelNorm } from './pixel-norm.ts';
import { StyleMixing } from './style-mixing.ts';
import { WSpaceTruncation } from './w-space-truncation.ts';

/** Class names of the custom generator layers (what a model.json's layer `class_name` says). */
export const GENERATOR_CUSTOM_LAYERS: readonly string[] = Object.freeze([
  AdaptiveInstanceNorm.className, ConstantInput.className, MixingLatent.className, NoiseInjection.className, PixelNorm.className,
  StyleMixing.className, WSpaceTruncation.className,
]);
