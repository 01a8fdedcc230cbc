// A VAE run end to end: `ganforge train --family vae` (the CLI in-process, real MNIST on the training backend) →
// `ganforge export` → the decoder's ONNX run in onnxruntime-node against tfjs → served by a real server on a loopback
// port, where `truncation` is the temperature T (z ~ N(0, T²·I)): T = 0 decodes z = 0 for every seed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { exportCommand } from '../../cli/export.ts';
import { trainCommand } from '../../cli/train.ts';
import { sampleLatents } from '../../common/latents.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { exportRun } from '../../export/export-run.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { silentLogger } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import { train } from '../../train/train.ts';
import { mnistSubset, tempDir } from '../train/helpers.ts';
import { parseNpy, type ErrorBody } from '../serve/serve-fixtures.ts';

const LATENT_DIM = 8;
let root: string;
let runDir: string;
let modelsDir: string;
let decoder: tf.LayersModel;
let server: RunningServer;

/** The decoder in tfjs (inference mode) on the given latents, NHWC values. */
function decode(latent: Float32Array, count: number): Float32Array {
  return tf.tidy(() => (decoder.predict(tf.tensor2d(latent, [count, LATENT_DIM])) as tf.Tensor).dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

async function generateNpy(query: string): Promise<{ status: number; data: Float32Array; shape: number[] }> {
  const response = await fetch(`${server.url}/generate?${query}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) return { status: response.status, data: new Float32Array(0), shape: [] };
  const { data, shape } = parseNpy(bytes);
  return { status: response.status, data, shape };
}

before(async () => {
  root = await tempDir('vae-export');
  runDir = join(root, 'runs', 'vae');
  modelsDir = join(root, 'models');
  const trained = await trainCommand.run(['--family', 'vae', '--dataset', 'mnist', '--limit', '256', '--batch-size', '32', '--steps', '16',
    '--latent-dim', String(LATENT_DIM), '--seed', '2', '--out', runDir]);
  assert.equal(trained, 0);
  assert.equal(await exportCommand.run([runDir, '--out', join(modelsDir, 'vae.onnx'), '--samples', '64']), 0);
  decoder = (await loadCheckpoint(runDir)).generator;
  server = await startServer({ modelsDir, port: 0, host: '127.0.0.1', device: 'cpu', workers: 1, logger: silentLogger, watch: false });
});

after(async () => {
  await server?.close();
  decoder?.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('VAE export', () => {
  it('the manifest describes a decoder: input z (no label), truncation kind temperature, psi mode only, the ELBO it was trained on', async () => {
    const path = join(modelsDir, 'vae.onnx');
    const manifest = readManifest(new Uint8Array(await readFile(path)), path);
    assert.equal(manifest.family, 'vae');
    assert.deepEqual(manifest.inputs, { latent: 'z', label: null });
    assert.equal(manifest.latentDim, LATENT_DIM);
    assert.deepEqual(manifest.imageShape, [28, 28, 1]);
    assert.deepEqual(manifest.truncation, { kind: 'temperature' });
    assert.deepEqual(manifest.truncationModes, ['psi']);
    assert.equal(manifest.training.loss, 'elbo:bernoulli');
    assert.equal(manifest.training.steps, 16);
  });

  it('the ONNX decoder equals tfjs in onnxruntime-node on seeded latents (and at z = 0)', async () => {
    const { session } = await createNodeSession(join(modelsDir, 'vae.onnx'), { device: 'cpu' });
    try {
      const count = 16;
      const latent = sampleLatents({ latentDim: LATENT_DIM, count, seed: 11 });
      latent.fill(0, 0, LATENT_DIM); // row 0 is the prior's mean
      const out = await session.run({ z: new ort.Tensor('float32', latent, [count, LATENT_DIM]) });
      const onnx = out[session.outputNames[0]!]!.data as Float32Array;
      const diff = maxAbsDiff(onnx, decode(latent, count));
      assert.ok(diff <= 1e-5, `max |onnx − tfjs| ${diff}`);
      assert.ok(onnx.every((v) => v >= -1 && v <= 1));
    } finally {
      await session.release();
    }
  });

  it('a cvae decoder exports with its label input and the same parity', async () => {
    const cvaeRun = join(root, 'runs', 'cvae');
    await train({ family: 'cvae', familyConfig: { hiddenUnits: [64] }, dataset: await mnistSubset(64), outDir: cvaeRun, batchSize: 16, steps: 4, latentDim: LATENT_DIM, progress: false });
    const report = await exportRun({ runDir: cvaeRun, outPath: join(root, 'other', 'cvae.onnx'), samples: 64 });
    assert.ok(report.parity.maxAbsDiff <= 1e-5, `max |Δ| ${report.parity.maxAbsDiff}`);
    assert.deepEqual(report.manifest.inputs, { latent: 'z', label: 'label' });
    assert.deepEqual(report.manifest.truncation, { kind: 'temperature' });
    assert.equal(report.manifest.classes?.length, 10);
  });

  it('a conv vae decoder (the dcgan trunk: transposed convolutions with BatchNorm) exports with the same parity', async () => {
    const convRun = join(root, 'runs', 'conv-vae');
    await train({ family: 'vae', familyConfig: { architecture: 'conv', decoderChannels: 16, encoderChannels: 8 }, dataset: await mnistSubset(64), outDir: convRun, batchSize: 16, steps: 4, latentDim: LATENT_DIM, progress: false });
    const report = await exportRun({ runDir: convRun, outPath: join(root, 'other', 'conv-vae.onnx'), samples: 64 });
    assert.ok(report.parity.maxAbsDiff <= 1e-5, `max |Δ| ${report.parity.maxAbsDiff}`);
    assert.deepEqual(report.manifest.truncation, { kind: 'temperature' });
  });
});

describe('VAE served on loopback', () => {
  it('/models says the truncation is a temperature', async () => {
    const body = await (await fetch(`${server.url}/models`)).json() as { models: { name: string; truncation: unknown; truncationModes: unknown }[] };
    const vae = body.models.find((m) => m.name === 'vae')!;
    assert.deepEqual(vae.truncation, { kind: 'temperature' });
    assert.deepEqual(vae.truncationModes, ['psi']);
  });

  it('truncation=0 (T = 0) gives the decoder of z = 0 for every seed and image', async () => {
    const expected = decode(new Float32Array(LATENT_DIM), 1);
    for (const seed of [0, 1, 4242, 4294967295]) {
      const { status, data, shape } = await generateNpy(`model=vae&n=3&seed=${seed}&truncation=0&format=npy`);
      assert.equal(status, 200);
      assert.deepEqual(shape, [3, 28, 28, 1]);
      for (let k = 0; k < 3; k++) {
        const image = data.subarray(k * expected.length, (k + 1) * expected.length);
        assert.ok(maxAbsDiff(image, expected) <= 1e-5, `seed ${seed} image ${k}`);
      }
    }
  });

  it('truncation=T samples z = T·z₁ (z ~ N(0, T²·I)) for the same seed: 0.5 and 1 decode differently, each as tfjs does', async () => {
    const unit = sampleLatents({ latentDim: LATENT_DIM, count: 4, seed: 77 });
    const half = unit.map((v) => 0.5 * v);
    const [t1, t05] = [await generateNpy('model=vae&n=4&seed=77&truncation=1&format=npy'), await generateNpy('model=vae&n=4&seed=77&truncation=0.5&format=npy')];
    assert.ok(maxAbsDiff(t1.data, decode(unit, 4)) <= 1e-5);
    assert.ok(maxAbsDiff(t05.data, decode(half, 4)) <= 1e-5);
    assert.ok(maxAbsDiff(t1.data, t05.data) > 1e-2, 'the temperature changes the samples');
  });

  it("refuses truncationMode=resample (not a temperature) and T outside [0, 1]", async () => {
    const resample = await fetch(`${server.url}/generate?model=vae&truncationMode=resample&format=npy`);
    assert.equal(resample.status, 400);
    assert.match(((await resample.json()) as ErrorBody).message, /supports truncationMode psi/);
    const negative = await fetch(`${server.url}/generate?model=vae&truncation=-0.1`);
    assert.equal(negative.status, 400);
    assert.match(((await negative.json()) as ErrorBody).message, /'truncation' must be a number in \[0, 1\]/);
  });
});
