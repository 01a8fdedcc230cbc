// exportRun end to end on a real checkpoint folder (saved with train/checkpoint.ts), and the no-file-on-failure rule.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { saveCheckpoint } from '../../train/checkpoint.ts';
import { SIDECAR_FORMAT, type RunSidecar } from '../../train/run-sidecar.ts';
import { exportRun, writeVerifiedGenerator } from '../../export/export-run.ts';
import { exportCommand } from '../../cli/export.ts';
import { randomizeWeights, testManifest, useCpuBackend } from './helpers.ts';

let root: string;

function sidecar(overrides: Partial<RunSidecar> = {}): RunSidecar {
  return {
    format: SIDECAR_FORMAT, family: 'cgan', familyConfig: {}, dataset: 'mnist', classes: ['0', '1', '2'], imageShape: [4, 4, 1],
    valueRange: [-1, 1], latentDim: 5, step: 12, epoch: 1, batchSize: 8, seed: 3, backend: 'cpu', loss: 'non-saturating',
    learningRates: { generator: 2e-4, discriminator: 2e-4 }, command: 'ganforge train --family cgan --steps 12', durationSeconds: 1.5,
    savedAt: new Date(0).toISOString(), metrics: {}, ...overrides,
  };
}

function conditionalGenerator(): tf.LayersModel {
  const z = tf.input({ shape: [5] });
  const label = tf.input({ shape: [1] });
  const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 3, outputDim: 4 }).apply(label)) as tf.SymbolicTensor;
  let h = tf.layers.concatenate().apply([z, embedded]) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(tf.layers.dense({ units: 12 }).apply(h)) as tf.SymbolicTensor;
  const image = tf.layers.reshape({ targetShape: [4, 4, 1] }).apply(tf.layers.dense({ units: 16, activation: 'tanh' }).apply(h)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [z, label], outputs: image });
  randomizeWeights(model, 31);
  return model;
}

function discriminator(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 1 })] });
}

before(async () => {
  await useCpuBackend();
  root = await mkdtemp(join(tmpdir(), 'ganforge-export-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('exportRun', () => {
  it('exports a saved checkpoint: .onnx with the sidecar facts in its manifest, a JSON beside it, parity reported', async () => {
    const runDir = join(root, 'run');
    await saveCheckpoint({ runDir, generator: conditionalGenerator(), discriminator: discriminator(), sidecar: sidecar() });
    const outPath = join(root, 'models', 'cgan.onnx');
    const report = await exportRun({ runDir, outPath, samples: 64, ganforgeVersion: '9.9.9' });
    assert.equal(report.path, outPath);
    assert.ok(report.parity.maxAbsDiff <= 1e-5, `max |Δ| ${report.parity.maxAbsDiff}`);
    assert.equal(report.parity.samples, 64);
    const manifest = readManifest(new Uint8Array(await readFile(outPath)), outPath);
    assert.deepEqual(manifest, report.manifest);
    assert.equal(manifest.family, 'cgan');
    assert.deepEqual(manifest.inputs, { latent: 'z', label: 'label' });
    assert.deepEqual(manifest.training, {
      dataset: 'mnist', steps: 12, epochs: 1, batchSize: 8, seed: 3, backend: 'cpu', loss: 'non-saturating',
      command: 'ganforge train --family cgan --steps 12', durationSeconds: 1.5,
    });
    assert.equal(manifest.ganforgeVersion, '9.9.9');
    const json = JSON.parse(await readFile(join(root, 'models', 'cgan.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(json.model, 'cgan.onnx');
    assert.deepEqual(json.manifest, manifest);
    assert.equal((json.parity as { maxAbsDiff: number }).maxAbsDiff, report.parity.maxAbsDiff);
    assert.deepEqual((await readdir(join(root, 'models'))).sort(), ['cgan.json', 'cgan.onnx']);
  });

  it('fails with INVALID_CHECKPOINT for a folder without a checkpoint, writing nothing', async () => {
    const outPath = join(root, 'none', 'x.onnx');
    await assert.rejects(exportRun({ runDir: join(root, 'missing'), outPath }), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_CHECKPOINT');
    await assert.rejects(readdir(join(root, 'none')), { code: 'ENOENT' });
  });
});

describe('ganforge export', () => {
  it('exports a run from the command line and refuses bad arguments with exit code 2', async () => {
    const runDir = join(root, 'cli-run');
    await saveCheckpoint({ runDir, generator: conditionalGenerator(), discriminator: discriminator(), sidecar: sidecar() });
    const outPath = join(root, 'cli-models', 'g.onnx');
    assert.equal(await exportCommand.run([runDir, '--out', outPath, '--samples', '32', '--backend', 'cpu']), 0);
    assert.equal(readManifest(new Uint8Array(await readFile(outPath)), outPath).family, 'cgan');
    assert.equal(await exportCommand.run([runDir]), 2); // no --out
    assert.equal(await exportCommand.run([runDir, '--out', join(root, 'x.bin')]), 2);
    assert.equal(await exportCommand.run([runDir, '--out', outPath, '--samples', '0']), 2);
    assert.equal(await exportCommand.run([runDir, '--out', outPath, '--tolerance', 'abc']), 2);
    assert.equal(await exportCommand.run([runDir, '--out', outPath, '--backend', 'gpu']), 2);
  });
});

describe('writeVerifiedGenerator leaves no file behind on failure', () => {
  it('an unsupported layer → UNSUPPORTED_LAYER and no file', async () => {
    const dir = join(root, 'unsupported');
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 16, inputShape: [4] }), tf.layers.reshape({ targetShape: [4, 4, 1] }), tf.layers.maxPooling2d({ poolSize: 1 })] });
    await assert.rejects(
      writeVerifiedGenerator({ model, manifest: testManifest({ latentDim: 4, imageShape: [4, 4, 1] }), outPath: join(dir, 'g.onnx') }),
      (e: unknown) => e instanceof GanforgeError && e.code === 'UNSUPPORTED_LAYER' && e.message.includes('MaxPooling2D'),
    );
    await assert.rejects(readdir(dir), { code: 'ENOENT' });
  });

  it('a parity failure (tolerance 0 against float rounding) → PARITY_FAILED, and neither the .onnx nor its temp file remains', async () => {
    const dir = join(root, 'parity');
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 64, inputShape: [32], activation: 'tanh' }), tf.layers.dense({ units: 16, activation: 'tanh' })] });
    randomizeWeights(model, 41, 1);
    await assert.rejects(
      writeVerifiedGenerator({ model, manifest: testManifest({ latentDim: 32, imageShape: [4, 4, 1] }), outPath: join(dir, 'g.onnx'), tolerance: 0 }),
      (e: unknown) => e instanceof GanforgeError && e.code === 'PARITY_FAILED',
    );
    assert.deepEqual(await readdir(dir), []);
  });
});
