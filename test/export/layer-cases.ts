// The exporter's parity cases, one group per exported tfjs layer class, shared by the onnxruntime-node suite
// (ops.test.ts) and the onnxruntime-web one (ops-web.test.ts): the server and the page must both reproduce tfjs.
// Every case gets random weights and random BatchNorm statistics, runs tfjs predict and the exported graph on the
// same inputs, and must agree to 1e-5; its exported ModelProto must also keep every ConvTranspose on the CUDA
// provider (symmetric pads, no auto_pad). Shapes are small so the whole suite takes seconds per runtime.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { exportGenerator, generatorConventions } from '../../export/export-generator.ts';
import { MIX_CROSSOVER_INPUT, MIX_LATENT_INPUT, TRUNCATION_INPUT } from '../../train/models/family.ts';
import { AdaptiveInstanceNorm } from '../../train/models/layers/adaptive-instance-norm.ts';
import { ConstantInput } from '../../train/models/layers/constant-input.ts';
import { MixingLatent } from '../../train/models/layers/mixing-latent.ts';
import { NoiseInjection } from '../../train/models/layers/noise-injection.ts';
import { PixelNorm } from '../../train/models/layers/pixel-norm.ts';
import { StyleMixing } from '../../train/models/layers/style-mixing.ts';
import { WSpaceTruncation } from '../../train/models/layers/w-space-truncation.ts';
import { FAMILIES, resolveFamilyConfig } from '../../train/models/registry.ts';
import {
  compareWithTfjs, convTransposeCudaFallbacks, exportForTest, randomValues, randomizeWeights, testManifest, useCpuBackend,
  type OnnxRuntimeName, type TestInput,
} from './helpers.ts';

export const PARITY_TOLERANCE = 1e-5;
const BATCH = 2;

export interface ParityCase {
  /** The tfjs class whose converter this case tests (its describe group); 'models' for whole networks. */
  layer: string;
  name: string;
  /** A fresh model (the suite randomizes its weights) with its inputs; `exportModel` defaults to exportForTest. */
  build(): { model: tf.LayersModel; inputs: TestInput[]; exportModel?: (model: tf.LayersModel) => Uint8Array };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function floatInput(name: string, shape: number[], seed: number): TestInput {
  return { name, data: randomValues(BATCH * size(shape), seed), shape: [BATCH, ...shape] };
}

const LABELS = Float32Array.from([3, 0]); // one per batch row, below every inputDim used here
const labelInput = (): TestInput => ({ name: 'label', data: LABELS, shape: [BATCH, 1], kind: 'label' });

/** x [B, ...shape] through `layers` in order. */
function chain(shape: number[], ...layers: tf.layers.Layer[]): { model: tf.LayersModel; inputs: TestInput[] } {
  const x = tf.input({ shape });
  let h: tf.SymbolicTensor = x;
  for (const layer of layers) h = layer.apply(h) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: x, outputs: h }), inputs: [floatInput('x', shape, size(shape))] };
}

/** Two images [B, ...shape] merged by `merge` (after a conv on the second, so both are graph values, not inputs). */
function mergeTwo(shape: number[], merge: tf.layers.Layer, convSecond = true): { model: tf.LayersModel; inputs: TestInput[] } {
  const a = tf.input({ shape });
  const b = tf.input({ shape });
  const bFeatures = convSecond ? (tf.layers.conv2d({ filters: shape[2]!, kernelSize: 3, padding: 'same' }).apply(b) as tf.SymbolicTensor) : b;
  const y = merge.apply([a, bFeatures]) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: [a, b], outputs: y }), inputs: [floatInput('a', shape, 1), floatInput('b', shape, 2)] };
}

/** z [B, 6] and label [B, 1] → flatten(embed(label)) [B, 6] merged with z by `merge`, then a Dense. */
function latentAndLabel(merge: tf.layers.Layer, labelDtype: 'int32' | 'float32' = 'int32'): { model: tf.LayersModel; inputs: TestInput[] } {
  const z = tf.input({ shape: [6] });
  const label = tf.input({ shape: [1], dtype: labelDtype });
  const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 5, outputDim: 6 }).apply(label)) as tf.SymbolicTensor; // [B, 6]
  const merged = merge.apply([z, embedded]) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 4 }).apply(merged) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: [z, label], outputs: y }), inputs: [floatInput('z', [6], 3), labelInput()] };
}

const conv = (filters: number, extra: Partial<Parameters<typeof tf.layers.conv2d>[0]> = {}) =>
  tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', ...extra });

function convTransposeCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  // The required grid: both paddings × strides 1, 2 × kernels 3, 4, 5, on a non-square input.
  for (const padding of ['same', 'valid'] as const) {
    for (const strides of [1, 2]) {
      for (const kernelSize of [3, 4, 5]) {
        cases.push({
          layer: 'Conv2DTranspose', name: `k${kernelSize} s${strides} '${padding}' on [3, 4, 3]`,
          build: () => chain([3, 4, 3], tf.layers.conv2dTranspose({ filters: 4, kernelSize, strides, padding, activation: 'relu' })),
        });
      }
    }
  }
  // Kernels smaller than the stride: tfjs's output needs ONNX output_padding.
  for (const padding of ['same', 'valid'] as const) {
    for (const kernelSize of [1, 2]) {
      cases.push({
        layer: 'Conv2DTranspose', name: `k${kernelSize} s2 '${padding}' (output_padding)`,
        build: () => chain([3, 4, 3], tf.layers.conv2dTranspose({ filters: 3, kernelSize, strides: 2, padding })),
      });
    }
  }
  cases.push({
    layer: 'Conv2DTranspose', name: "[5, 3] kernel, [2, 1] strides, 'same', no bias, tanh",
    build: () => chain([3, 4, 3], tf.layers.conv2dTranspose({ filters: 2, kernelSize: [5, 3], strides: [2, 1], padding: 'same', useBias: false, activation: 'tanh' })),
  });
  return cases;
}

/** ψ per batch row for the w-space cases: the graph takes it as an input, tfjs applies the same ψ in the layer. */
const PSI = 0.5;
const psiInput = (): TestInput => ({ name: TRUNCATION_INPUT, data: new Float32Array(BATCH).fill(PSI), shape: [BATCH, 1], onnxOnly: true });

/** x [B, 3, 4, 2] → conv, modulated by style `index` of L = 3 styles mixed from w = Dense(z) and w₂ = Dense(MixingLatent(z)). */
function styleCase(index: number): { model: tf.LayersModel; inputs: TestInput[] } {
  const x = tf.input({ shape: [3, 4, 2] });
  const z = tf.input({ shape: [5] });
  const mapping = tf.layers.dense({ units: 6 });
  const w = mapping.apply(z) as tf.SymbolicTensor; // [B, 6]
  const w2 = mapping.apply(new MixingLatent({ seed: 1 }).apply(z)) as tf.SymbolicTensor; // [B, 6], dropped from the graph
  const styles = new StyleMixing({ styles: 3, seed: 2 }).apply([w, w2]) as tf.SymbolicTensor; // [B, 3, 6]
  const y = new AdaptiveInstanceNorm({ styleIndex: index, seed: 3 }).apply([conv(3).apply(x) as tf.SymbolicTensor, styles]) as tf.SymbolicTensor; // [B, 3, 4, 3]
  return { model: tf.model({ inputs: [x, z], outputs: y }), inputs: [floatInput('x', [3, 4, 2], 21), floatInput('z', [5], 22)] };
}

/** z [B, 6] (and label) → Dense → WSpaceTruncation at ψ = PSI → Dense. */
function truncationCase(conditional: boolean): { model: tf.LayersModel; inputs: TestInput[] } {
  const z = tf.input({ shape: [6] });
  const label = tf.input({ shape: [1], dtype: 'int32' });
  const w = tf.layers.dense({ units: 5 }).apply(z) as tf.SymbolicTensor;
  const truncation = new WSpaceTruncation({ classes: conditional ? 5 : 1 });
  truncation.psi = PSI;
  const y = tf.layers.dense({ units: 3 }).apply(truncation.apply(conditional ? [w, label] : w)) as tf.SymbolicTensor;
  const inputs = conditional ? [floatInput('z', [6], 23), labelInput(), psiInput()] : [floatInput('z', [6], 23), psiInput()];
  return { model: tf.model({ inputs: conditional ? [z, label] : z, outputs: y }), inputs };
}

export const PARITY_CASES: readonly ParityCase[] = Object.freeze([
  // stylegan-lite's layers (train/models/layers/).
  { layer: 'PixelNorm', name: 'rank 2 after a Dense', build: () => chain([6], tf.layers.dense({ units: 5 }), new PixelNorm()) },
  { layer: 'PixelNorm', name: 'rank 4 (the channel axis, NCHW axis 1 in the graph)', build: () => chain([3, 4, 2], conv(3), new PixelNorm({ epsilon: 1e-4 })) },
  { layer: 'ConstantInput', name: 'a [3, 4, 2] constant expanded to the batch of z, then a conv', build: () => chain([4], new ConstantInput({ shape: [3, 4, 2], seed: 1 }), conv(3)) },
  { layer: 'NoiseInjection', name: 'zeroed at inference between two convs', build: () => chain([3, 4, 2], conv(3), new NoiseInjection({ seed: 1 }), conv(2)) },
  { layer: 'AdaptiveInstanceNorm', name: 'style 0 of 3', build: () => styleCase(0) },
  { layer: 'AdaptiveInstanceNorm', name: 'style 2 of 3', build: () => styleCase(2) },
  { layer: 'StyleMixing', name: 'w repeated for every layer, the MixingLatent branch dropped', build: () => styleCase(1) },
  { layer: 'MixingLatent', name: 'its branch does not reach the output', build: () => styleCase(1) },
  { layer: 'WSpaceTruncation', name: `unconditional, ψ = ${PSI} from the '${TRUNCATION_INPUT}' input`, build: () => truncationCase(false) },
  { layer: 'WSpaceTruncation', name: `per-class mean w gathered by label, ψ = ${PSI}`, build: () => truncationCase(true) },

  // Conv2D
  { layer: 'Conv2D', name: "k3 s1 'same', relu", build: () => chain([5, 6, 3], conv(4, { activation: 'relu' })) },
  { layer: 'Conv2D', name: "k3 s2 'same' on an even input, tanh", build: () => chain([8, 8, 3], conv(4, { strides: 2, activation: 'tanh' })) },
  { layer: 'Conv2D', name: "k4 s2 'same' on an odd input (TF's extra pad at the end)", build: () => chain([7, 9, 2], conv(4, { kernelSize: 4, strides: 2 })) },
  { layer: 'Conv2D', name: "k3 s1 'valid', sigmoid", build: () => chain([6, 5, 2], conv(3, { padding: 'valid', activation: 'sigmoid' })) },
  { layer: 'Conv2D', name: "k4 s2 'valid' on an odd input", build: () => chain([9, 7, 2], conv(3, { kernelSize: 4, strides: 2, padding: 'valid' })) },
  { layer: 'Conv2D', name: "k5 s1 'valid', no bias", build: () => chain([7, 7, 2], conv(2, { kernelSize: 5, padding: 'valid', useBias: false })) },
  { layer: 'Conv2D', name: "k3 dilation 2 'same', elu", build: () => chain([7, 7, 2], conv(2, { dilationRate: 2, activation: 'elu' })) },
  {
    layer: 'Conv2D', name: "[5, 3] kernel, [2, 1] strides, 'same', no bias, softmax over channels",
    build: () => chain([8, 6, 2], conv(3, { kernelSize: [5, 3], strides: [2, 1], useBias: false, activation: 'softmax' })),
  },

  ...convTransposeCases(),

  // UpSampling2D: sizes 2 and non-square, each interpolation, on a graph value (after a conv) and on an input.
  ...(['nearest', 'bilinear'] as const).flatMap((interpolation): ParityCase[] => [
    { layer: 'UpSampling2D', name: `${interpolation}, size 2, after a conv`, build: () => chain([3, 4, 2], conv(2), tf.layers.upSampling2d({ size: [2, 2], interpolation })) },
    { layer: 'UpSampling2D', name: `${interpolation}, size [2, 3]`, build: () => chain([3, 4, 2], tf.layers.upSampling2d({ size: [2, 3], interpolation })) },
    { layer: 'UpSampling2D', name: `${interpolation}, size [3, 1], after a conv`, build: () => chain([3, 4, 2], conv(3), tf.layers.upSampling2d({ size: [3, 1], interpolation })) },
  ]),

  // Flatten / Reshape across layouts: NCHW inside the graph, NHWC element order as tfjs sees it.
  { layer: 'Flatten', name: 'after a conv (NCHW → NHWC order), then Dense', build: () => chain([4, 5, 2], conv(3), tf.layers.flatten(), tf.layers.dense({ units: 3 })) },
  { layer: 'Flatten', name: 'of an image input, then Dense', build: () => chain([4, 3, 2], tf.layers.flatten(), tf.layers.dense({ units: 3 })) },
  { layer: 'Flatten', name: 'of a rank-3 value (no layout change)', build: () => chain([6], tf.layers.dense({ units: 6 }), tf.layers.reshape({ targetShape: [2, 3] }), tf.layers.flatten(), tf.layers.dense({ units: 2 })) },
  { layer: 'Reshape', name: 'rank 2 → rank 4 before a conv', build: () => chain([6], tf.layers.dense({ units: 60 }), tf.layers.reshape({ targetShape: [4, 3, 5] }), conv(2)) },
  { layer: 'Reshape', name: 'rank 4 → rank 4 with other H, W (after a conv, before a conv)', build: () => chain([4, 6, 2], conv(2), tf.layers.reshape({ targetShape: [6, 4, 2] }), conv(3)) },
  { layer: 'Reshape', name: 'rank 4 → rank 4 with other channels', build: () => chain([4, 6, 2], conv(2), tf.layers.reshape({ targetShape: [2, 6, 4] }), conv(2, { kernelSize: 1 })) },
  { layer: 'Reshape', name: 'rank 4 → rank 3, then Dense on the last axis', build: () => chain([4, 6, 2], conv(2), tf.layers.reshape({ targetShape: [24, 2] }), tf.layers.dense({ units: 3 })) },
  { layer: 'Reshape', name: 'rank 4 → rank 2 of an image input', build: () => chain([4, 3, 2], tf.layers.reshape({ targetShape: [24] }), tf.layers.dense({ units: 2 })) },
  { layer: 'Reshape', name: 'rank 4 → rank 4 as the output (a Reshape-produced NHWC value is reused)', build: () => chain([6], tf.layers.dense({ units: 24 }), tf.layers.reshape({ targetShape: [2, 3, 4] }), tf.layers.reshape({ targetShape: [3, 2, 4] })) },

  // BatchNormalization (inference: moving statistics), rank 2, 3 and 4, with γ and/or β off.
  ...([
    ['γ and β', {}],
    ['no γ (scale: false)', { scale: false }],
    ['no β (center: false)', { center: false }],
    ['neither γ nor β', { scale: false, center: false }],
  ] as const).flatMap(([what, options]): ParityCase[] => [
    { layer: 'BatchNormalization', name: `rank 2, ${what}`, build: () => chain([5], tf.layers.dense({ units: 6 }), tf.layers.batchNormalization(options)) },
    { layer: 'BatchNormalization', name: `rank 4 after a conv, ${what}`, build: () => chain([4, 3, 2], conv(3), tf.layers.batchNormalization(options)) },
  ]),
  { layer: 'BatchNormalization', name: 'rank 4 on an image input, epsilon 1e-5, momentum 0.8', build: () => chain([3, 4, 3], tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.8 })) },
  { layer: 'BatchNormalization', name: 'rank 3 (embedded labels shape)', build: () => chain([4, 3], tf.layers.batchNormalization()) },

  // LayerNormalization (WGAN-GP critics): any axis set, γ/β laid out in NCHW.
  { layer: 'LayerNormalization', name: 'rank 2, axis -1', build: () => chain([6], tf.layers.dense({ units: 5 }), tf.layers.layerNormalization()) },
  { layer: 'LayerNormalization', name: 'rank 4, channels (axis -1)', build: () => chain([3, 4, 3], conv(3), tf.layers.layerNormalization()) },
  { layer: 'LayerNormalization', name: 'rank 4, axes [1, 2, 3] (whole sample)', build: () => chain([3, 4, 3], conv(2), tf.layers.layerNormalization({ axis: [1, 2, 3] })) },
  { layer: 'LayerNormalization', name: 'rank 4, axes [1, 2], no β', build: () => chain([3, 4, 2], conv(2), tf.layers.layerNormalization({ axis: [1, 2], center: false, epsilon: 1e-5 })) },
  { layer: 'LayerNormalization', name: 'rank 4, axes [1, 2, 3], no γ', build: () => chain([3, 4, 2], tf.layers.layerNormalization({ axis: [1, 2, 3], scale: false })) },

  // Conditional layers.
  { layer: 'Embedding', name: 'int32 label [B, 1] → [B, 1, 6] → Flatten → Multiply with z', build: () => latentAndLabel(tf.layers.multiply()) },
  { layer: 'Embedding', name: 'float32-declared label (Cast in the graph)', build: () => latentAndLabel(tf.layers.multiply(), 'float32') },
  {
    layer: 'Embedding', name: 'Dense on the rank-3 embedding, no Flatten',
    build: () => {
      const label = tf.input({ shape: [1], dtype: 'int32' });
      const y = tf.layers.dense({ units: 3, activation: 'tanh' }).apply(tf.layers.embedding({ inputDim: 5, outputDim: 4 }).apply(label)) as tf.SymbolicTensor; // [B, 1, 3]
      return { model: tf.model({ inputs: label, outputs: y }), inputs: [labelInput()] };
    },
  },
  { layer: 'Concatenate', name: 'rank 2: z ⊕ embed(label) (the cgan generator input)', build: () => latentAndLabel(tf.layers.concatenate()) },
  {
    layer: 'Concatenate', name: 'rank 4 channels: conv features ⊕ a label map',
    build: () => {
      const x = tf.input({ shape: [4, 4, 3] });
      const label = tf.input({ shape: [1], dtype: 'int32' });
      const features = conv(3).apply(x) as tf.SymbolicTensor; // [B, 4, 4, 3]
      const labelMap = tf.layers.reshape({ targetShape: [4, 4, 1] }).apply(
        tf.layers.dense({ units: 16 }).apply(tf.layers.embedding({ inputDim: 5, outputDim: 4 }).apply(label)),
      ) as tf.SymbolicTensor; // [B, 4, 4, 1]
      const both = tf.layers.concatenate().apply([features, labelMap]) as tf.SymbolicTensor; // [B, 4, 4, 4]
      const y = conv(2).apply(both) as tf.SymbolicTensor;
      return { model: tf.model({ inputs: [x, label], outputs: y }), inputs: [floatInput('x', [4, 4, 3], 4), labelInput()] };
    },
  },
  { layer: 'Concatenate', name: 'rank 4 on axis 1 (height)', build: () => mergeTwo([3, 4, 2], tf.layers.concatenate({ axis: 1 })) },
  { layer: 'Concatenate', name: 'rank 4 on axis 2 (width) of two inputs', build: () => mergeTwo([3, 4, 2], tf.layers.concatenate({ axis: 2 }), false) },
  { layer: 'Multiply', name: 'rank 2: z ⊙ embed(label) (the cgan multiply conditioning)', build: () => latentAndLabel(tf.layers.multiply()) },
  { layer: 'Multiply', name: 'rank 4: image ⊙ conv features', build: () => mergeTwo([3, 4, 2], tf.layers.multiply()) },
  { layer: 'Add', name: 'rank 2: z + embed(label)', build: () => latentAndLabel(tf.layers.add()) },
  {
    layer: 'Add', name: 'rank 4: a residual block x + conv(relu(conv(x)))',
    build: () => {
      const x = tf.input({ shape: [4, 3, 2] });
      const h = conv(2).apply(tf.layers.reLU().apply(conv(2).apply(x))) as tf.SymbolicTensor;
      const y = tf.layers.add().apply([x, h]) as tf.SymbolicTensor;
      return { model: tf.model({ inputs: x, outputs: y }), inputs: [floatInput('x', [4, 3, 2], 5)] };
    },
  },
  {
    layer: 'Add', name: 'three rank-2 inputs',
    build: () => {
      const xs = [0, 1, 2].map(() => tf.input({ shape: [4] }));
      const y = tf.layers.add().apply(xs) as tf.SymbolicTensor;
      return { model: tf.model({ inputs: xs, outputs: y }), inputs: ['a', 'b', 'c'].map((n, i) => floatInput(n, [4], 10 + i)) };
    },
  },

  // Padding and cropping (a conv generator reaching 28 × 28 from 32 × 32, a critic padding before a 'valid' conv).
  { layer: 'ZeroPadding2D', name: 'padding 1, then a valid conv', build: () => chain([3, 4, 2], tf.layers.zeroPadding2d({ padding: 1 }), conv(2, { padding: 'valid' })) },
  { layer: 'ZeroPadding2D', name: 'padding [[1, 2], [0, 3]] after a conv', build: () => chain([3, 4, 2], conv(2), tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] })) },
  { layer: 'Cropping2D', name: 'cropping [[1, 2], [0, 3]] after a conv', build: () => chain([5, 6, 2], conv(2), tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]] })) },
  { layer: 'Cropping2D', name: "cropping 2 after a k4 s2 'same' Conv2DTranspose (8 × 8 → 4 × 4)", build: () => chain([4, 4, 2], tf.layers.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 2, padding: 'same' }), tf.layers.cropping2D({ cropping: 2 })) },

  // Activations.
  { layer: 'LeakyReLU', name: 'alpha 0.2 on rank 4', build: () => chain([3, 4, 2], conv(3), tf.layers.leakyReLU({ alpha: 0.2 })) },
  { layer: 'LeakyReLU', name: "tfjs's default alpha (0.3, not ONNX's 0.01) on rank 2", build: () => chain([5], tf.layers.dense({ units: 6 }), tf.layers.leakyReLU()) },
  { layer: 'ReLU', name: 'on rank 4', build: () => chain([3, 4, 2], conv(3), tf.layers.reLU()) },
  { layer: 'ReLU', name: 'maxValue 0.5 (Clip) on rank 2', build: () => chain([5], tf.layers.dense({ units: 6 }), tf.layers.reLU({ maxValue: 0.5 })) },
  ...(['tanh', 'sigmoid', 'relu', 'softmax'] as const).map((activation): ParityCase => ({
    layer: 'Activation', name: `'${activation}' on rank 4`, build: () => chain([3, 4, 2], conv(3), tf.layers.activation({ activation })),
  })),
  ...(['linear', 'relu', 'relu6', 'tanh', 'sigmoid', 'hardSigmoid', 'elu', 'selu', 'softplus', 'softsign', 'swish', 'softmax'] as const).map((activation): ParityCase => ({
    layer: 'Dense', name: `fused '${activation}'`, build: () => chain([6], tf.layers.dense({ units: 5, activation }), tf.layers.activation({ activation })),
  })),
  { layer: 'Dense', name: 'no bias', build: () => chain([6], tf.layers.dense({ units: 5, useBias: false })) },
  { layer: 'Dense', name: 'on a rank-4 value (the channel axis)', build: () => chain([4, 5, 3], conv(3), tf.layers.dense({ units: 2, activation: 'tanh' })) },

  // Whole networks.
  {
    layer: 'models', name: 'a DCGAN-like generator: Dense → BN → LeakyReLU → Reshape → Conv2DTranspose k5/k4/k3 → UpSampling2D → Conv2D tanh',
    build: () => chain(
      [8],
      tf.layers.dense({ units: 4 * 4 * 8, useBias: false }), // [B, 128]
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.reshape({ targetShape: [4, 4, 8] }), // [B, 4, 4, 8]
      tf.layers.conv2dTranspose({ filters: 6, kernelSize: 5, strides: 2, padding: 'same', useBias: false }), // [B, 8, 8, 6]
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }), // [B, 16, 16, 4]
      tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }),
      tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }), // [B, 32, 32, 4]
      tf.layers.cropping2D({ cropping: 2 }), // [B, 28, 28, 4]
      tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'tanh' }), // [B, 28, 28, 1]
    ),
  },
  {
    layer: 'models', name: 'a discriminator: Conv2D s2 → LeakyReLU → Dropout → Conv2D valid → Flatten → Dropout → Dense sigmoid',
    build: () => chain(
      [10, 10, 1],
      tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }), // [B, 5, 5, 4]
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid' }), // [B, 3, 3, 3]
      tf.layers.flatten(), // [B, 27]
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ),
  },
  {
    layer: 'models', name: 'an MLP stem: Dense → BN → LeakyReLU → Dense → LeakyReLU → Reshape → BN (rank 4) → ReLU maxValue',
    build: () => chain(
      [8],
      tf.layers.dense({ units: 24, useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dense({ units: 4 * 3 * 4 }),
      tf.layers.leakyReLU(),
      tf.layers.reshape({ targetShape: [4, 3, 4] }), // [B, 4, 3, 4]
      tf.layers.batchNormalization({ momentum: 0.8, epsilon: 1e-5 }),
      tf.layers.reLU({ maxValue: 0.5 }),
    ),
  },
  {
    layer: 'models', name: 'a conditional conv generator: Embedding ⊙ z, Embedding → label map ⊕ features, Conv2DTranspose',
    build: () => {
      const z = tf.input({ shape: [8] });
      const label = tf.input({ shape: [1], dtype: 'int32' });
      const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 10, outputDim: 8 }).apply(label)) as tf.SymbolicTensor; // [B, 8]
      const joined = tf.layers.multiply().apply([z, embedded]) as tf.SymbolicTensor;
      const features = tf.layers.reshape({ targetShape: [4, 4, 6] }).apply(tf.layers.dense({ units: 96 }).apply(joined)) as tf.SymbolicTensor; // [B, 4, 4, 6]
      const labelMap = tf.layers.reshape({ targetShape: [4, 4, 1] }).apply(
        tf.layers.dense({ units: 16 }).apply(tf.layers.embedding({ inputDim: 10, outputDim: 5 }).apply(label)),
      ) as tf.SymbolicTensor; // [B, 4, 4, 1]
      const both = tf.layers.concatenate().apply([features, labelMap]) as tf.SymbolicTensor; // [B, 4, 4, 7]
      const image = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }).apply(both) as tf.SymbolicTensor; // [B, 8, 8, 1]
      return { model: tf.model({ inputs: [z, label], outputs: image }), inputs: [floatInput('z', [8], 7), labelInput()] };
    },
  },
  // Every registered family's generator as `ganforge export` writes it (exportGenerator), shrunk to a few channels; for
  // the conditional ones this is the exported label path: int64 label [batch] → Unsqueeze → Embedding (Gather).
  ...Object.entries(FAMILIES).map(([familyName, family]): ParityCase => ({
    layer: 'models', name: `the '${familyName}' family generator through exportGenerator${family.conditional ? ' (int64 label input)' : ''}`,
    build: () => {
      const defaults = family.defaults as Record<string, unknown>;
      const shrink = Object.fromEntries(Object.entries({ generatorUnits: [16, 32], generatorChannels: 8, embeddingDim: 4, synthesisChannels: 8, wDim: 8 }).filter(([key]) => Object.hasOwn(defaults, key)));
      const classes = family.conditional ? ['a', 'b', 'c', 'd', 'e'] : null;
      const context = { imageShape: [8, 8, 1] as [number, number, number], numClasses: classes?.length ?? null, latentDim: 6, seed: 1 };
      const model = family.buildGenerator(resolveFamilyConfig(family, shrink), context);
      // A style generator's manifest says w-space, and its graph takes ψ (tfjs applies the same ψ in its layer).
      const conventions = generatorConventions(model);
      const manifest = { ...testManifest({ latentDim: 6, imageShape: context.imageShape, classes, family: familyName }), ...conventions };
      const inputs = family.conditional ? [floatInput('z', [6], 6), labelInput()] : [floatInput('z', [6], 6)];
      if ('truncation' in conventions) {
        for (const layer of model.layers) if (layer instanceof WSpaceTruncation) layer.psi = PSI;
        inputs.push(psiInput());
      }
      // Its mixing inputs, unmixed (the second latent is z, the crossover past the last layer); the mixed graph has
      // its own parity tests (stylegan-lite-export.test.ts).
      if ('styleMixing' in conventions) {
        inputs.push({ ...floatInput(MIX_LATENT_INPUT, [6], 6), onnxOnly: true });
        inputs.push({ name: MIX_CROSSOVER_INPUT, data: new Float32Array(BATCH).fill(conventions.styleMixing!.layers), shape: [BATCH, 1], onnxOnly: true });
      }
      return { model, inputs, exportModel: (m) => exportGenerator(m, manifest) };
    },
  })),
]);

/** Every tfjs layer class the cases instantiate (a registry entry missing here has no parity test). */
export function layerClassesCovered(): Set<string> {
  const classes = new Set<string>();
  for (const c of PARITY_CASES) for (const layer of c.build().model.layers) classes.add(layer.getClassName());
  return classes;
}

/** Defines one describe per layer group running every case against `runtime`; logs the worst |Δ| per group. */
export function defineParitySuite(runtime: OnnxRuntimeName): void {
  const worst = new Map<string, number>();
  before(async () => {
    await useCpuBackend();
  });
  after(() => {
    const overall = Math.max(...worst.values());
    const rows = [...worst].map(([layer, d]) => `${layer} ${d.toExponential(2)}`).join(', ');
    console.log(`# ${runtime}: max |Δ| ${overall.toExponential(2)} over ${PARITY_CASES.length} cases (${rows})`);
  });
  const groups = [...new Set(PARITY_CASES.map((c) => c.layer))];
  groups.forEach((group) => {
    describe(`${group} in ${runtime}`, () => {
      PARITY_CASES.filter((c) => c.layer === group).forEach((c, i) => {
        it(`${c.name} matches tfjs (max |Δ| ≤ ${PARITY_TOLERANCE})`, async (t) => {
          const { model, inputs, exportModel } = c.build();
          if (group !== 'models') assert.ok(model.layers.some((l) => l.getClassName() === group), `the case uses a ${group}`);
          randomizeWeights(model, 1000 + i);
          const bytes = exportModel === undefined ? exportForTest(model, inputs) : exportModel(model);
          assert.deepEqual(convTransposeCudaFallbacks(bytes), [], 'every ConvTranspose has symmetric pads and no auto_pad');
          const { maxAbsDiff, tfjs, onnxDims } = await compareWithTfjs(model, bytes, inputs, runtime);
          t.diagnostic(`max |Δ| ${maxAbsDiff.toExponential(2)}`);
          worst.set(group, Math.max(worst.get(group) ?? 0, maxAbsDiff));
          assert.ok(maxAbsDiff <= PARITY_TOLERANCE, `max |Δ| ${maxAbsDiff} > ${PARITY_TOLERANCE}`);
          if (exportModel === undefined) assert.deepEqual([...onnxDims], [BATCH, ...model.outputs[0]!.shape.slice(1)]);
          // A constant output would make the comparison vacuous.
          assert.ok(Math.max(...tfjs) - Math.min(...tfjs) > 1e-3, 'the output varies across elements');
          model.dispose();
        });
      });
    });
  });
}
