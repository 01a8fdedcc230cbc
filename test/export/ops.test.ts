// Every exported layer type, run in the real onnxruntime-node and compared with tfjs predict on random weights.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { SUPPORTED_LAYERS } from '../../export/ops/registry.ts';
import { compareWithTfjs, exportForTest, randomValues, randomizeWeights, useCpuBackend, type TestInput } from './helpers.ts';

const TOLERANCE = 1e-5;
const BATCH = 3;

function imageInput(shape: number[], seed = 1): TestInput {
  return { name: 'x', data: randomValues(BATCH * shape.reduce((a, b) => a * b, 1), seed), shape: [BATCH, ...shape] };
}

async function assertParity(model: tf.LayersModel, inputs: TestInput[], seed = 11): Promise<Float32Array> {
  randomizeWeights(model, seed);
  const { maxAbsDiff, onnx, onnxDims } = await compareWithTfjs(model, exportForTest(model, inputs), inputs);
  assert.ok(maxAbsDiff <= TOLERANCE, `max |Δ| ${maxAbsDiff} > ${TOLERANCE}`);
  assert.deepEqual([...onnxDims], [BATCH, ...model.outputs[0]!.shape.slice(1)]);
  return onnx;
}

/** A one-layer model on an input of the given shape. */
function single(inputShape: number[], layer: tf.layers.Layer): tf.LayersModel {
  const x = tf.input({ shape: inputShape });
  return tf.model({ inputs: x, outputs: layer.apply(x) as tf.SymbolicTensor });
}

before(async () => {
  await useCpuBackend();
});

describe('Conv2DTranspose', () => {
  for (const padding of ['same', 'valid'] as const) {
    for (const [k, s] of [[5, 2], [4, 2], [3, 2], [2, 2], [3, 1], [4, 1], [1, 2]] as const) {
      it(`k${k} s${s} '${padding}' on a non-square input matches tfjs`, async () => {
        const model = single([3, 4, 6], tf.layers.conv2dTranspose({ filters: 5, kernelSize: k, strides: s, padding, activation: 'relu' }));
        await assertParity(model, [imageInput([3, 4, 6])]);
      });
    }
  }

  it('k5 s2 same uses symmetric pads and a Slice (no auto_pad, no asymmetric pads)', async () => {
    await useCpuBackend();
    const model = single([4, 4, 2], tf.layers.conv2dTranspose({ filters: 2, kernelSize: 5, strides: 2, padding: 'same' }));
    const text = new TextDecoder('latin1').decode(exportForTest(model, [imageInput([4, 4, 2])]));
    assert.ok(text.includes('Slice'), 'a Slice trims the extra row and column');
    assert.ok(!text.includes('auto_pad'));
  });
});

describe('Conv2D', () => {
  const cases: [string, tf.layers.Layer, number[]][] = [
    ['k3 s2 same on an even input', tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }), [8, 8, 3]],
    ['k4 s2 same on an odd input', tf.layers.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }), [7, 9, 2]],
    ['k3 s1 valid', tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid', activation: 'sigmoid' }), [6, 5, 2]],
    ['k3 dilation 2 same', tf.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'elu' }), [7, 7, 2]],
    ['[5, 3] kernel, [2, 1] strides, no bias, softmax over channels', tf.layers.conv2d({ filters: 3, kernelSize: [5, 3], strides: [2, 1], padding: 'same', useBias: false, activation: 'softmax' }), [8, 6, 2]],
  ];
  for (const [name, layer, shape] of cases) {
    it(`${name} matches tfjs`, async () => {
      await assertParity(single(shape, layer), [imageInput(shape)]);
    });
  }
});

describe('UpSampling2D', () => {
  for (const interpolation of ['nearest', 'bilinear'] as const) {
    it(`${interpolation} with size [2, 3] matches tfjs`, async () => {
      await assertParity(single([3, 4, 2], tf.layers.upSampling2d({ size: [2, 3], interpolation })), [imageInput([3, 4, 2])]);
    });
  }
});

describe('Dense, activations, BatchNormalization, ReLU', () => {
  const activations = ['linear', 'relu', 'relu6', 'tanh', 'sigmoid', 'hardSigmoid', 'elu', 'selu', 'softplus', 'softsign', 'swish', 'softmax'] as const;
  for (const activation of activations) {
    it(`Dense with fused '${activation}' and an Activation('${activation}') layer match tfjs`, async () => {
      const z = tf.input({ shape: [6] });
      const h = tf.layers.dense({ units: 5, activation }).apply(z) as tf.SymbolicTensor;
      const y = tf.layers.activation({ activation }).apply(tf.layers.dense({ units: 4 }).apply(h)) as tf.SymbolicTensor;
      await assertParity(tf.model({ inputs: z, outputs: y }), [{ name: 'z', data: randomValues(BATCH * 6, 2), shape: [BATCH, 6] }]);
    });
  }

  it('Dense + BatchNormalization + LeakyReLU + Reshape (the MLP/DCGAN stem) matches tfjs', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 48, inputShape: [8], useBias: false }),
        tf.layers.batchNormalization(),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.dense({ units: 4 * 3 * 4 }),
        tf.layers.leakyReLU(), // tfjs default alpha 0.3, not ONNX's 0.01
        tf.layers.reshape({ targetShape: [4, 3, 4] }),
        tf.layers.batchNormalization({ momentum: 0.8, epsilon: 1e-5 }),
        tf.layers.reLU({ maxValue: 0.5 }),
      ],
    });
    await assertParity(model, [{ name: 'z', data: randomValues(BATCH * 8, 3), shape: [BATCH, 8] }]);
  });

  it('BatchNormalization without scale/center, and Dense on rank-4 and rank-3 values match tfjs', async () => {
    const x = tf.input({ shape: [4, 5, 3] });
    let h = tf.layers.batchNormalization({ scale: false, center: false }).apply(x) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 2, activation: 'tanh' }).apply(h) as tf.SymbolicTensor; // [B, 4, 5, 2]
    h = tf.layers.reshape({ targetShape: [20, 2] }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor; // [B, 20, 3]
    await assertParity(tf.model({ inputs: x, outputs: h }), [imageInput([4, 5, 3])]);
  });
});

describe('a DCGAN-like generator', () => {
  it('Dense → BN → LeakyReLU → Reshape → Conv2DTranspose k5/k4/k3 → UpSampling2D → Conv2D tanh matches tfjs', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 4 * 4 * 16, inputShape: [8], useBias: false }), // [B, 8] → [B, 256]
        tf.layers.batchNormalization(),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.reshape({ targetShape: [4, 4, 16] }), // → [B, 4, 4, 16]
        tf.layers.conv2dTranspose({ filters: 8, kernelSize: 5, strides: 2, padding: 'same', useBias: false }), // → [B, 8, 8, 8]
        tf.layers.batchNormalization(),
        tf.layers.reLU(),
        tf.layers.conv2dTranspose({ filters: 8, kernelSize: 4, strides: 2, padding: 'same' }), // → [B, 16, 16, 8]
        tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }),
        tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }), // → [B, 32, 32, 4]
        tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'tanh' }), // → [B, 32, 32, 1]
      ],
    });
    await assertParity(model, [{ name: 'z', data: randomValues(BATCH * 8, 4), shape: [BATCH, 8] }]);
  });
});

describe('conditional nets', () => {
  it('Embedding + Flatten + Multiply (2-D) and Embedding + Dense + Reshape + Concatenate (4-D) match tfjs with int64 labels', async () => {
    const z = tf.input({ shape: [8] });
    const label = tf.input({ shape: [1] });
    const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 10, outputDim: 8 }).apply(label)) as tf.SymbolicTensor; // [B, 8]
    const joined = tf.layers.multiply().apply([z, embedded]) as tf.SymbolicTensor;
    const features = tf.layers.reshape({ targetShape: [4, 4, 6] }).apply(tf.layers.dense({ units: 96 }).apply(joined)) as tf.SymbolicTensor;
    const labelMap = tf.layers.reshape({ targetShape: [4, 4, 1] }).apply(
      tf.layers.dense({ units: 16 }).apply(tf.layers.embedding({ inputDim: 10, outputDim: 5 }).apply(label)),
    ) as tf.SymbolicTensor;
    const both = tf.layers.concatenate().apply([features, labelMap]) as tf.SymbolicTensor; // [B, 4, 4, 7]
    const image = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }).apply(both) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [z, label], outputs: image });
    await assertParity(model, [
      { name: 'z', data: randomValues(BATCH * 8, 5), shape: [BATCH, 8] },
      { name: 'label', data: Float32Array.from([3, 0, 9]), shape: [BATCH, 1], kind: 'label' },
    ]);
  });

  it('Concatenate on axis 1 of images and Multiply of images match tfjs', async () => {
    const a = tf.input({ shape: [3, 4, 2] });
    const b = tf.input({ shape: [3, 4, 2] });
    const product = tf.layers.multiply().apply([a, b]) as tf.SymbolicTensor;
    const y = tf.layers.concatenate({ axis: 1 }).apply([product, a]) as tf.SymbolicTensor; // [B, 6, 4, 2]
    const model = tf.model({ inputs: [a, b], outputs: y });
    await assertParity(model, [
      { name: 'a', data: randomValues(BATCH * 24, 6), shape: [BATCH, 3, 4, 2] },
      { name: 'b', data: randomValues(BATCH * 24, 7), shape: [BATCH, 3, 4, 2] },
    ]);
  });
});

describe('a discriminator', () => {
  it('Conv2D s2 → LeakyReLU → Dropout → Conv2D valid → Flatten → Dropout → Dense sigmoid matches tfjs (image input stays NHWC)', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', inputShape: [10, 10, 1] }), // → [B, 5, 5, 4]
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.dropout({ rate: 0.3 }),
        tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid' }), // → [B, 3, 3, 3]
        tf.layers.flatten(), // → [B, 27]
        tf.layers.dropout({ rate: 0.3 }),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    await assertParity(model, [imageInput([10, 10, 1])]);
  });
});

describe('unsupported layers and activations', () => {
  it('a layer with no mapping fails with UNSUPPORTED_LAYER naming its class and the supported list', () => {
    const model = single([8, 8, 1], tf.layers.maxPooling2d({ poolSize: 2 }));
    assert.throws(
      () => exportForTest(model, [imageInput([8, 8, 1])]),
      (e: unknown) => {
        assert.ok(e instanceof GanforgeError);
        assert.equal(e.code, 'UNSUPPORTED_LAYER');
        assert.match(e.message, /MaxPooling2D/);
        for (const name of SUPPORTED_LAYERS) assert.ok(e.message.includes(name), `message lists ${name}`);
        return true;
      },
    );
  });

  it('BatchNormalization on a non-channel axis is refused (tfjs itself normalizes it as if it were the last axis)', () => {
    const model = single([2, 3, 1], tf.layers.batchNormalization({ axis: 1 }));
    assert.throws(() => exportForTest(model, [imageInput([2, 3, 1])]), (e: unknown) => e instanceof GanforgeError && e.code === 'UNSUPPORTED_LAYER' && /'axis'/.test(e.message));
  });

  it('an activation with no mapping fails with UNSUPPORTED_LAYER naming it', () => {
    const model = single([4], tf.layers.dense({ units: 2, activation: 'gelu' }));
    assert.throws(() => exportForTest(model, [{ name: 'z', data: new Float32Array(4), shape: [1, 4] }]), (e: unknown) => {
      assert.ok(e instanceof GanforgeError);
      assert.equal(e.code, 'UNSUPPORTED_LAYER');
      assert.match(e.message, /"gelu"/);
      assert.match(e.message, /supported activations: .*tanh/);
      return true;
    });
  });
});
