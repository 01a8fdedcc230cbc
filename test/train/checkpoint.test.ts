// Checkpoints: save → load gives the same predictions; crashes (temp folders, half-written or missing checkpoints,
// a stale pointer) never yield a broken load; atomic writes replace content whole.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { replaceDirectoryAtomic, writeDirectoryAtomic, writeFileAtomic } from '../../train/atomic-write.ts';
import { loadCheckpoint, saveCheckpoint } from '../../train/checkpoint.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { SIDECAR_FORMAT, type RunSidecar } from '../../train/run-sidecar.ts';
import { buildGanPair } from '../../train/trainer.ts';
import { tempDir, useBestBackend } from './helpers.ts';

function sidecar(step: number): RunSidecar {
  return {
    format: SIDECAR_FORMAT, family: 'cgan', familyConfig: {}, dataset: 'mnist', classes: ['a', 'b', 'c'], imageShape: [6, 6, 1],
    valueRange: [-1, 1], latentDim: 5, step, epoch: 0, batchSize: 4, seed: 1, backend: tf.getBackend(), loss: 'non-saturating',
    learningRates: { generator: 2e-4, discriminator: 2e-4 }, command: 'test', durationSeconds: 1, savedAt: new Date(0).toISOString(), metrics: { dLoss: 0.7 },
  };
}

function pair(seed: number) {
  const family = getFamily('cgan');
  return buildGanPair(family, resolveFamilyConfig(family, { generatorUnits: [8, 16] }), { imageShape: [6, 6, 1], numClasses: 3, latentDim: 5, seed });
}

function isInvalidCheckpoint(path: string) {
  return (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_CHECKPOINT' && e.message.includes(path);
}

describe('checkpoints', () => {
  before(async () => { await useBestBackend(); });

  it('round-trips both networks (incl. BN moving statistics) and the sidecar', async () => {
    const runDir = await tempDir('ckpt');
    const { generator, discriminator } = pair(1);
    // Non-default moving statistics, so the test notices if they are not saved.
    for (const w of generator.nonTrainableWeights) w.write(tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 9));
    const dir = await saveCheckpoint({ runDir, generator, discriminator, sidecar: sidecar(12) });
    assert.equal(dir, join(runDir, 'checkpoints', 'step-000012'));
    const loaded = await loadCheckpoint(runDir);
    assert.equal(loaded.dir, dir);
    assert.deepEqual(loaded.sidecar, sidecar(12));
    tf.tidy(() => {
      const z = tf.randomNormal([4, 5], 0, 1, 'float32', 4);
      const labels = tf.tensor2d([0, 1, 2, 1], [4, 1], 'int32');
      const expected = (generator.predict([z, labels]) as tf.Tensor).dataSync();
      assert.deepEqual((loaded.generator.predict([z, labels]) as tf.Tensor).dataSync(), expected);
      const images = generator.predict([z, labels]) as tf.Tensor;
      assert.deepEqual((loaded.discriminator.predict([images, labels]) as tf.Tensor).dataSync(),
        (discriminator.predict([images, labels]) as tf.Tensor).dataSync());
    });
    assert.deepEqual(loaded.generator.inputNames, ['z', 'label']);
  });

  it('ignores temp folders a crash left behind and falls back past a broken pointer', async () => {
    const runDir = await tempDir('crash');
    const { generator, discriminator } = pair(2);
    const good = await saveCheckpoint({ runDir, generator, discriminator, sidecar: sidecar(5) });
    // A crash mid-save of step 9: the temp folder holds a half checkpoint, and it sorts after step-000005.
    const temp = join(runDir, 'checkpoints', '.tmp-step-000009-4242-deadbeef');
    await mkdir(join(temp, 'generator'), { recursive: true });
    await writeFile(join(temp, 'run.json'), JSON.stringify(sidecar(9)));
    await writeFile(join(temp, 'generator', 'model.json'), '{"modelTo');
    assert.equal((await loadCheckpoint(runDir)).dir, good);
    // A pointer naming a folder that is incomplete (say, deleted by hand) is skipped for the newest complete one.
    await mkdir(join(runDir, 'checkpoints', 'step-000011'));
    await writeFile(join(runDir, 'latest.json'), JSON.stringify({ format: 'ganforge.latest/1', checkpoint: 'checkpoints/step-000011', step: 11 }));
    assert.equal((await loadCheckpoint(runDir)).dir, good);
    await writeFile(join(runDir, 'latest.json'), 'garbage');
    assert.equal((await loadCheckpoint(runDir)).dir, good);
    // The checkpoint folder itself can be given.
    assert.equal((await loadCheckpoint(good)).sidecar.step, 5);
  });

  it('keeps only the newest checkpoints', async () => {
    const runDir = await tempDir('keep');
    const { generator, discriminator } = pair(3);
    for (const step of [1, 2, 3, 4]) await saveCheckpoint({ runDir, generator, discriminator, sidecar: sidecar(step), keep: 2 });
    assert.deepEqual((await readdir(join(runDir, 'checkpoints'))).sort(), ['step-000003', 'step-000004']);
    assert.equal((JSON.parse(await readFile(join(runDir, 'latest.json'), 'utf8')) as { step: number }).step, 4);
  });

  it('reports INVALID_CHECKPOINT with the path for missing runs, truncated weights and bad sidecars', async () => {
    const runDir = await tempDir('bad');
    await assert.rejects(loadCheckpoint(join(runDir, 'nope')), isInvalidCheckpoint(join(runDir, 'nope')));
    await assert.rejects(loadCheckpoint(runDir), isInvalidCheckpoint(runDir));
    const { generator, discriminator } = pair(4);
    const dir = await saveCheckpoint({ runDir, generator, discriminator, sidecar: sidecar(1) });
    const weights = join(dir, 'generator', 'weights.bin');
    await writeFile(weights, (await readFile(weights)).subarray(0, 100));
    await assert.rejects(loadCheckpoint(runDir), isInvalidCheckpoint(join(dir, 'generator')));
    await saveCheckpoint({ runDir, generator, discriminator, sidecar: { ...sidecar(1), latentDim: 0 } });
    await assert.rejects(loadCheckpoint(runDir), (e: unknown) => isInvalidCheckpoint(dir)(e) && /latentDim/.test((e as Error).message));
  });
});

describe('atomic writes', () => {
  it('writeFileAtomic replaces the whole file and leaves no temp file', async () => {
    const dir = await tempDir('atomic');
    const path = join(dir, 'sub', 'pointer.json');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, new Uint8Array([110, 101, 119]));
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.deepEqual(await readdir(join(dir, 'sub')), ['pointer.json']);
  });

  it('replaceDirectoryAtomic swaps a whole folder, and a failing writer leaves the old one untouched', async () => {
    const dir = await tempDir('atomic');
    const target = join(dir, 'model');
    await writeDirectoryAtomic(target, { 'a.txt': 'one', 'b.txt': 'two' });
    await writeDirectoryAtomic(target, { 'c.txt': 'three' });
    assert.deepEqual(await readdir(target), ['c.txt']);
    await assert.rejects(replaceDirectoryAtomic(target, async (temp) => {
      await writeFile(join(temp, 'half.txt'), 'x');
      throw new Error('disk full');
    }), /disk full/);
    assert.deepEqual(await readdir(target), ['c.txt']);
    assert.deepEqual(await readdir(dir), ['model'], 'no temp folder left behind');
    await rm(dir, { recursive: true });
  });
});
