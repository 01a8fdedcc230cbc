// The two architectures the training-speed benchmark compares against PyTorch (bench/torch_reference.py builds the
// same layers): the registered mlp and dcgan families at their 28×28 defaults (the dcgan one is issue 11's reference
// DCGAN). A change to either family's default layers needs the same change in torch_reference.py.

import type * as tf from '@tensorflow/tfjs';
import { getFamily, resolveFamilyConfig } from '../train/models/registry.ts';
import { buildGanPair } from '../train/trainer.ts';

export const BENCH_MODELS = ['mlp', 'dcgan'] as const;
export type BenchModel = (typeof BENCH_MODELS)[number];

export const LATENT_DIM = 100;

/** One line per model for the table caption. */
export const MODEL_DESCRIPTIONS: Readonly<Record<BenchModel, string>> = Object.freeze({
  mlp: 'MLP GAN (G 100-256-512-1024-784 with BN on the 512 and 1024 blocks, D 784-512-256-1)',
  dcgan: 'DCGAN (G Dense 100→7·7·128, BN, ReLU, ConvT 128→64 k4 s2, BN, ReLU, ConvT 64→1 k4 s2, tanh; D Conv 1→64 k4 s2, LReLU, Conv 64→128 k4 s2, LReLU, Dense 6272→1)',
});

/** The generator and discriminator of `model`, seeded: the registered families' defaults at 28×28×1. */
export function buildBenchPair(model: BenchModel, seed = 0): { generator: tf.LayersModel; discriminator: tf.LayersModel } {
  const family = getFamily(model);
  return buildGanPair(family, resolveFamilyConfig(family), { imageShape: [28, 28, 1], numClasses: null, latentDim: LATENT_DIM, seed });
}
