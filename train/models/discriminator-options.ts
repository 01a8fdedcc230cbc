// The discriminator options every family offers (issue 12's techniques that live in D's architecture): minibatch
// standard deviation (Karras et al. 2018) and spectral normalisation (Miyato et al. 2018). The families build their
// discriminator layers through these helpers, so the options mean the same in every family and, when off, the layers
// and their seeds are exactly those of a family without them.

import * as tf from '@tensorflow/tfjs';
import type { SeedSequence } from './family.ts';
import { MinibatchStddev } from './layers/minibatch-stddev.ts';
import { SpectralConv2D, SpectralDense } from './layers/spectral-normalization.ts';

/** Config fields shared by every family's discriminator. */
export interface DiscriminatorOptions {
  /**
   * Append the minibatch standard deviation (one feature: the mean over features of the per-group stddev) to D's last
   * features: MLP families on the last hidden layer before the output Dense, conv families on the last feature maps
   * before the flatten. Helps D see a collapsed batch. Default false.
   */
  minibatchStddev: boolean;
  /** Samples per minibatch-stddev group (min with the batch size). Default 4 (Karras et al.). */
  minibatchStddevGroupSize: number;
  /**
   * Spectral normalisation of every Dense and Conv2D kernel of D (trunk and output heads; not the projection's label
   * embedding): W / σ(W) with one power-iteration step per training pass, u kept in checkpoints. Default false.
   */
  spectralNorm: boolean;
}

export const discriminatorOptionDefaults: Readonly<DiscriminatorOptions> = Object.freeze({
  minibatchStddev: false,
  minibatchStddevGroupSize: 4,
  spectralNorm: false,
});

/** Checks the fields the type check in resolveFamilyConfig cannot. */
export function validateDiscriminatorOptions(config: DiscriminatorOptions, family: string): void {
  const g = config.minibatchStddevGroupSize;
  if (!Number.isInteger(g) || g < 1) throw new RangeError(`family '${family}' config 'minibatchStddevGroupSize' must be an integer ≥ 1, got ${g}`);
}

/** The seed of u's initial draw, derived from the kernel's seed so the SeedSequence is consumed as without SN. */
function powerIterationSeed(kernelSeed: number): number {
  return (kernelSeed ^ 0x2545f491) >>> 0;
}

/** D's Dense layer: plain, or spectrally normalised when `spectral`. The kernel initializer takes one seed either way. */
export function discriminatorDense(units: number, seeds: SeedSequence, name: string, spectral: boolean,
  initializer: (seed: number) => ReturnType<typeof tf.initializers.glorotUniform> = (seed) => tf.initializers.glorotUniform({ seed })): tf.layers.Layer {
  const seed = seeds.take();
  if (!spectral) return tf.layers.dense({ units, name, kernelInitializer: initializer(seed), biasInitializer: 'zeros' });
  return new SpectralDense({ units, name, kernelInitializer: initializer(seed), powerIterationSeed: powerIterationSeed(seed) });
}

/** D's Conv2D layer (square kernel and stride): plain, or spectrally normalised when `spectral`. */
export function discriminatorConv2d(args: { filters: number; kernelSize: number; strides: number; padding: 'same' | 'valid'; useBias: boolean; name: string },
  seeds: SeedSequence, spectral: boolean, initializer: (seed: number) => ReturnType<typeof tf.initializers.glorotUniform>): tf.layers.Layer {
  const seed = seeds.take();
  if (!spectral) return tf.layers.conv2d({ ...args, kernelInitializer: initializer(seed), biasInitializer: 'zeros' });
  return new SpectralConv2D({ ...args, kernelInitializer: initializer(seed), powerIterationSeed: powerIterationSeed(seed) });
}

/** h with the minibatch-stddev feature appended when the option is on: [B, F] → [B, F + 1], [B, H, W, C] → [B, H, W, C + 1]. */
export function appendMinibatchStddev(h: tf.SymbolicTensor, config: DiscriminatorOptions): tf.SymbolicTensor {
  if (!config.minibatchStddev) return h;
  return new MinibatchStddev({ groupSize: config.minibatchStddevGroupSize, name: 'd_minibatch_stddev' }).apply(h) as tf.SymbolicTensor;
}
