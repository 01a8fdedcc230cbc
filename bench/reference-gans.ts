// The two architectures the training-speed benchmark compares against PyTorch (bench/torch_reference.py builds the
// same layers): the MLP GAN of train/models/mlp.ts and the small MNIST DCGAN of issue 11. The DCGAN is built here so the
// benchmark does not depend on which families are registered; its shapes are those of the registered dcgan's 28×28
// default. Also the analytic FLOP count of one training step, used to report achieved GFLOP/s.

import * as tf from '@tensorflow/tfjs';
import { getFamily, resolveFamilyConfig } from '../train/models/registry.ts';
import { buildGanPair } from '../train/trainer.ts';

export const BENCH_MODELS = ['mlp', 'dcgan'] as const;
export type BenchModel = (typeof BENCH_MODELS)[number];

export const LATENT_DIM = 100;

/** One line per model for the table caption. */
export const MODEL_DESCRIPTIONS: Readonly<Record<BenchModel, string>> = Object.freeze({
  mlp: 'MLP GAN (G 100-256-512-1024-784 with BN on the 512 and 1024 blocks, D 784-512-256-1)',
  dcgan: 'DCGAN (G Dense 100→7·7·128, BN, ConvT 128→64 k4 s2, BN, ConvT 64→1 k4 s2, tanh; D Conv 1→64 k4 s2, Conv 64→128 k4 s2, Dense 6272→1)',
});

/** The generator and discriminator of `model`, seeded. */
export function buildBenchPair(model: BenchModel, seed = 0): { generator: tf.LayersModel; discriminator: tf.LayersModel } {
  if (model === 'mlp') {
    const family = getFamily('mlp');
    return buildGanPair(family, resolveFamilyConfig(family), { imageShape: [28, 28, 1], numClasses: null, latentDim: LATENT_DIM, seed });
  }
  return { generator: buildDcganGenerator(seed), discriminator: buildDcganDiscriminator(seed) };
}

function init(seed: number): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform({ seed });
}

function buildDcganGenerator(seed: number): tf.LayersModel {
  const z = tf.input({ shape: [LATENT_DIM] }); // [B, 100]
  let h = tf.layers.dense({ units: 7 * 7 * 128, kernelInitializer: init(seed + 1) }).apply(z) as tf.SymbolicTensor; // [B, 6272]
  h = tf.layers.reshape({ targetShape: [7, 7, 128] }).apply(h) as tf.SymbolicTensor; // [B, 7, 7, 128]
  h = tf.layers.batchNormalization({ momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2dTranspose({ filters: 64, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(seed + 2) })
    .apply(h) as tf.SymbolicTensor; // [B, 14, 14, 64]
  h = tf.layers.batchNormalization({ momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(seed + 3) })
    .apply(h) as tf.SymbolicTensor; // [B, 28, 28, 1]
  h = tf.layers.activation({ activation: 'tanh' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: z, outputs: h, name: 'generator' });
}

function buildDcganDiscriminator(seed: number): tf.LayersModel {
  const image = tf.input({ shape: [28, 28, 1] }); // [B, 28, 28, 1]
  let h = tf.layers.conv2d({ filters: 64, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(seed + 11) })
    .apply(image) as tf.SymbolicTensor; // [B, 14, 14, 64]
  h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 128, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(seed + 12) })
    .apply(h) as tf.SymbolicTensor; // [B, 7, 7, 128]
  h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor; // [B, 6272]
  h = tf.layers.dense({ units: 1, kernelInitializer: init(seed + 13) }).apply(h) as tf.SymbolicTensor; // [B, 1]
  return tf.model({ inputs: image, outputs: h, name: 'discriminator' });
}
