// exportGenerator + verifyGeneratorParity on small generators: names and shapes the server relies on, the manifest
// round trip through common/onnx-metadata.ts, BatchNorm in inference form, a dynamic batch, and failing parity.

import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { GanforgeError, InvalidParameterError } from '../../common/errors.ts';
import { sampleLatents } from '../../common/latents.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { createNodeSession } from '../../runtime/ort-node.ts';
import { exportGenerator } from '../../export/export-generator.ts';
import { verifyGeneratorParity } from '../../export/verify.ts';
import { randomizeWeights, runOnnx, testManifest, useCpuBackend } from './helpers.ts';

const { onnx } = onnxProto;
const LATENT = 6;

/** [B, 6] → [B, 4, 4, 8] → [B, 8, 8, 1]: Dense + BN + LeakyReLU + Reshape + Conv2DTranspose k5 s2 + BN + tanh. */
function dcganGenerator(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 4 * 4 * 8, inputShape: [LATENT], useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.reshape({ targetShape: [4, 4, 8] }),
      tf.layers.conv2dTranspose({ filters: 1, kernelSize: 5, strides: 2, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'tanh' }),
    ],
  });
  randomizeWeights(model, 21);
  return model;
}

/** A cGAN-style MLP generator: z [B, 6] and label [B, 1] → flat [B, 16] (imageShape [4, 4, 1]). */
function conditionalMlpGenerator(): tf.LayersModel {
  const z = tf.input({ shape: [LATENT], name: 'latent' });
  const label = tf.input({ shape: [1], name: 'class_label' });
  const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 3, outputDim: LATENT }).apply(label)) as tf.SymbolicTensor;
  let h = tf.layers.multiply().apply([z, embedded]) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 32 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
  h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  const image = tf.layers.dense({ units: 16, activation: 'tanh' }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [z, label], outputs: image });
  randomizeWeights(model, 22);
  return model;
}

const unconditional = () => testManifest({ latentDim: LATENT, imageShape: [8, 8, 1] });
const conditional = () => testManifest({ latentDim: LATENT, imageShape: [4, 4, 1], classes: ['a', 'b', 'c'], family: 'cgan-test' });

before(async () => {
  await useCpuBackend();
});

describe('exportGenerator', () => {
  it('names the input z [batch, latentDim] and the output image [batch, H, W, C], and the manifest reads back', async () => {
    const manifest = unconditional();
    const bytes = exportGenerator(dcganGenerator(), manifest);
    assert.deepEqual(readManifest(bytes, 'test.onnx'), manifest);
    const { session } = await createNodeSession(bytes, { device: 'cpu' });
    try {
      assert.deepEqual(session.inputNames, ['z']);
      assert.deepEqual(session.outputNames, ['image']);
      assert.deepEqual((session.inputMetadata[0] as { shape: unknown }).shape, ['batch', LATENT]);
      assert.deepEqual((session.outputMetadata[0] as { shape: unknown }).shape, ['batch', 8, 8, 1]);
    } finally {
      await session.release();
    }
    assert.match(new TextDecoder('latin1').decode(bytes), /ganforge test generator\. Inputs: z \(float32 \[batch, 6\]/);
  });

  it('runs batch 1 and batch 37 (dynamic batch) with the tfjs values', async () => {
    const model = dcganGenerator();
    const bytes = exportGenerator(model, unconditional());
    for (const batch of [1, 37]) {
      const z = sampleLatents({ latentDim: LATENT, count: batch, seed: 5 });
      const { onnx, dims } = await runOnnx(bytes, [{ name: 'z', data: z, shape: [batch, LATENT] }], 'image');
      assert.deepEqual([...dims], [batch, 8, 8, 1]);
      const expected = tf.tidy(() => (model.predict(tf.tensor2d(z, [batch, LATENT])) as tf.Tensor).dataSync());
      for (let i = 0; i < onnx.length; i++) assert.ok(Math.abs(onnx[i]! - expected[i]!) <= 1e-5, `batch ${batch} value ${i}`);
    }
  });

  it('uses BatchNorm moving statistics: image 0 alone equals image 0 of a batch of 64 and tfjs predict', async () => {
    const model = dcganGenerator();
    const bytes = exportGenerator(model, unconditional());
    const z = sampleLatents({ latentDim: LATENT, count: 64, seed: 9 });
    const batch = await runOnnx(bytes, [{ name: 'z', data: z, shape: [64, LATENT] }], 'image');
    const alone = await runOnnx(bytes, [{ name: 'z', data: z.slice(0, LATENT), shape: [1, LATENT] }], 'image');
    const pixels = 8 * 8;
    assert.deepEqual(Array.from(batch.onnx.subarray(0, pixels)), Array.from(alone.onnx));
    const expected = tf.tidy(() => (model.predict(tf.tensor2d(z.slice(0, LATENT), [1, LATENT])) as tf.Tensor).dataSync());
    for (let i = 0; i < pixels; i++) assert.ok(Math.abs(alone.onnx[i]! - expected[i]!) <= 1e-5);
    // Batch statistics would give a different image 0: the moving statistics are far from this batch's own.
    const trainingMode = tf.tidy(() => (model.apply(tf.tensor2d(z, [64, LATENT]), { training: true }) as tf.Tensor).dataSync().slice(0, pixels));
    assert.ok(trainingMode.some((v, i) => Math.abs(v - alone.onnx[i]!) > 1e-2), 'the test model must tell the two BN modes apart');
  });

  it('takes an int64 label [batch] for a conditional generator and reshapes a flat output to imageShape', async () => {
    const model = conditionalMlpGenerator();
    const manifest = conditional();
    const bytes = exportGenerator(model, manifest);
    assert.deepEqual(readManifest(bytes, 'c.onnx').classes, ['a', 'b', 'c']);
    const { session } = await createNodeSession(bytes, { device: 'cpu' });
    try {
      assert.deepEqual(session.inputNames, ['z', 'label']);
      assert.deepEqual(session.inputMetadata.map((m) => (m as { type: string }).type), ['float32', 'int64']);
      assert.deepEqual((session.inputMetadata[1] as { shape: unknown }).shape, ['batch']);
      assert.deepEqual((session.outputMetadata[0] as { shape: unknown }).shape, ['batch', 4, 4, 1]);
    } finally {
      await session.release();
    }
  });

  it('adds Transposes only at rank changes: none for an MLP generator ending in Reshape, two around a conv stack', () => {
    const opTypes = (bytes: Uint8Array) => (onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType);
    const mlp = tf.sequential({ layers: [tf.layers.dense({ units: 16, inputShape: [LATENT], activation: 'tanh' }), tf.layers.reshape({ targetShape: [4, 4, 1] })] });
    const mlpOps = opTypes(exportGenerator(mlp, testManifest({ latentDim: LATENT, imageShape: [4, 4, 1] })));
    assert.deepEqual(mlpOps.filter((op) => op === 'Transpose'), []);
    const dcganOps = opTypes(exportGenerator(dcganGenerator(), unconditional()));
    assert.equal(dcganOps.filter((op) => op === 'Transpose').length, 2, dcganOps.join(' '));
  });

  it('rejects a manifest that does not fit the model', () => {
    const model = dcganGenerator();
    assert.throws(() => exportGenerator(model, testManifest({ latentDim: 7, imageShape: [8, 8, 1] })), InvalidParameterError);
    assert.throws(() => exportGenerator(model, testManifest({ latentDim: LATENT, imageShape: [8, 8, 3] })), /imageShape/);
    assert.throws(() => exportGenerator(model, testManifest({ latentDim: LATENT, imageShape: [8, 8, 1], classes: ['a'] })), /2 input/);
  });
});

describe('verifyGeneratorParity', () => {
  it('passes on 256 seeded latents with labels cycling through the classes, max |Δ| ≤ 1e-5', async () => {
    const model = conditionalMlpGenerator();
    const manifest = conditional();
    const report = await verifyGeneratorParity(model, exportGenerator(model, manifest), manifest);
    assert.equal(report.samples, 256);
    assert.ok(report.maxAbsDiff <= 1e-5, `max |Δ| ${report.maxAbsDiff}`);
    assert.ok(report.meanAbsDiff <= report.maxAbsDiff);
    assert.equal(report.backend, 'cpu');
  });

  it('fails with PARITY_FAILED when the ONNX model no longer matches the tfjs weights', async () => {
    const model = dcganGenerator();
    const manifest = unconditional();
    const bytes = exportGenerator(model, manifest);
    randomizeWeights(model, 99); // the checkpoint moved on after the export
    await assert.rejects(verifyGeneratorParity(model, bytes, manifest, { samples: 16 }), (e: unknown) => {
      assert.ok(e instanceof GanforgeError);
      assert.equal(e.code, 'PARITY_FAILED');
      assert.match(e.message, /max \|Δ\| [\d.e-]+ > tolerance 0\.0001 over 16 samples/);
      return true;
    });
  });
});
