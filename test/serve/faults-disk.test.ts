// A full disk and a read-only run or models folder while a checkpoint or an export is written: the write fails with
// WRITE_FAILED naming the path and why, leaves no temporary file behind, and the previous checkpoint (latest.json and
// its networks) or the previous model file stays exactly as it was.
//
// The faults are real: a small tmpfs filled to the last byte (ENOSPC) and a read-only bind mount (EROFS). As root,
// chmod does not stop a write, so these need mount(2); where it is not allowed (no root, or a container without
// CAP_SYS_ADMIN) the tests are skipped with the reason, which CI's containers do not guarantee either.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { exportRun } from '../../export/export-run.ts';
import { loadCheckpoint, saveCheckpoint, LATEST_FILE } from '../../train/checkpoint.ts';
import { SIDECAR_FORMAT, type RunSidecar } from '../../train/run-sidecar.ts';
import { randomizeWeights, useCpuBackend } from '../export/helpers.ts';

function sidecar(step: number): RunSidecar {
  return {
    format: SIDECAR_FORMAT, family: 'cgan', familyConfig: {}, dataset: 'mnist', classes: ['0', '1', '2'], imageShape: [4, 4, 1],
    valueRange: [-1, 1], latentDim: 5, step, epoch: 1, batchSize: 8, seed: 3, backend: 'cpu', loss: 'non-saturating',
    learningRates: { generator: 2e-4, discriminator: 2e-4 }, command: 'ganforge train --family cgan', durationSeconds: 1,
    savedAt: new Date(0).toISOString(), metrics: {},
  };
}

function generator(seed: number): tf.LayersModel {
  const z = tf.input({ shape: [5] });
  const label = tf.input({ shape: [1] });
  const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 3, outputDim: 4 }).apply(label)) as tf.SymbolicTensor;
  const h = tf.layers.dense({ units: 12, activation: 'relu' }).apply(tf.layers.concatenate().apply([z, embedded])) as tf.SymbolicTensor;
  const image = tf.layers.reshape({ targetShape: [4, 4, 1] }).apply(tf.layers.dense({ units: 16, activation: 'tanh' }).apply(h)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [z, label], outputs: image });
  randomizeWeights(model, seed);
  return model;
}

const discriminator = () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 1 })] });

/** Runs mount(8); returns why it failed, or undefined. */
function mount(args: string[]): string | undefined {
  const result = spawnSync('mount', args, { encoding: 'utf8' });
  if (result.error !== undefined) return `mount could not run (${result.error.message})`;
  return result.status === 0 ? undefined : `mount ${args.join(' ')} failed: ${result.stderr.trim() || `exit ${result.status}`}`;
}

function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}

/** Fills the file system holding `dir` until a write fails with ENOSPC. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        size = Math.floor(size / 2); // down to the last byte
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

const isWriteFailure = (path: string, reason: RegExp) => (error: unknown) => {
  assert.ok(error instanceof GanforgeError, String(error));
  assert.equal(error.code, 'WRITE_FAILED', error.message);
  assert.ok(error.message.includes(path), `the message names ${path}: ${error.message}`);
  assert.match(error.message, reason);
  return true;
};

const temps = (dir: string) => readdirSync(dir).filter((name) => name.startsWith('.tmp-'));

describe('disk full and read-only folders', () => {
  let root: string;
  let full: string; // a 2 MiB tmpfs
  let readOnly: string; // a read-only view of a folder on it
  let skipReason: string | undefined;
  const mounted: string[] = [];

  before(async () => {
    await useCpuBackend();
    root = mkdtempSync(join(tmpdir(), 'ganforge-disk-'));
    full = join(root, 'full');
    readOnly = join(root, 'ro');
    mkdirSync(full);
    mkdirSync(readOnly);
    if (process.getuid?.() !== 0) skipReason = 'mounting a tmpfs needs root';
    skipReason ??= mount(['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', full]);
    if (skipReason === undefined) mounted.push(full);
    if (skipReason !== undefined) console.log(`skipping the disk-fault tests: ${skipReason}`);
  });

  after(() => {
    for (const dir of mounted.reverse()) unmount(dir);
    rmSync(root, { recursive: true, force: true });
  });

  it('a checkpoint on a full disk: WRITE_FAILED naming the checkpoint folder; latest.json and the previous checkpoint intact', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const runDir = join(full, 'run');
    const g = generator(1);
    const d = discriminator();
    await saveCheckpoint({ runDir, generator: g, discriminator: d, sidecar: sidecar(1) });
    const latest = readFileSync(join(runDir, LATEST_FILE));
    const z = tf.tensor2d([[0.1, -0.2, 0.3, 0.4, -0.5]]);
    const label = tf.tensor2d([[2]]);
    const expected = (g.predict([z, label]) as tf.Tensor).dataSync();
    const filler = fill(full);
    try {
      const target = join(runDir, 'checkpoints', 'step-000002');
      await assert.rejects(saveCheckpoint({ runDir, generator: generator(2), discriminator: d, sidecar: sidecar(2) }), isWriteFailure(target, /no space left on the device \(ENOSPC/));
      assert.deepEqual(readdirSync(join(runDir, 'checkpoints')), ['step-000001'], 'no temporary or partial checkpoint is left');
      assert.deepEqual(temps(runDir), []);
      assert.deepEqual(readFileSync(join(runDir, LATEST_FILE)), latest, 'latest.json is unchanged');
      const loaded = await loadCheckpoint(runDir);
      assert.equal(loaded.sidecar.step, 1);
      assert.deepEqual((loaded.generator.predict([z, label]) as tf.Tensor).dataSync(), expected, 'the previous checkpoint loads with its weights');
    } finally {
      rmSync(filler);
    }
  });

  it('an export onto a full disk: WRITE_FAILED naming the .onnx; the model already there keeps its bytes', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const runDir = join(full, 'export-run');
    await saveCheckpoint({ runDir, generator: generator(3), discriminator: discriminator(), sidecar: sidecar(1) });
    const models = join(full, 'models');
    mkdirSync(models);
    const outPath = join(models, 'cgan.onnx');
    await exportRun({ runDir, outPath, samples: 8, ganforgeVersion: 'test' });
    const before = readFileSync(outPath);
    await saveCheckpoint({ runDir, generator: generator(4), discriminator: discriminator(), sidecar: sidecar(2) });
    const filler = fill(full);
    try {
      await assert.rejects(exportRun({ runDir, outPath, samples: 8, ganforgeVersion: 'test' }), isWriteFailure(outPath, /no space left on the device/));
      assert.deepEqual(readFileSync(outPath), before, 'the served model file is untouched');
      assert.deepEqual(temps(models), [], 'no temporary file is left');
    } finally {
      rmSync(filler);
    }
  });

  it('a read-only run or models folder: WRITE_FAILED naming the path; nothing changes', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const runDir = join(full, 'ro-run');
    await saveCheckpoint({ runDir, generator: generator(5), discriminator: discriminator(), sidecar: sidecar(1) });
    await exportRun({ runDir, outPath: join(runDir, 'model.onnx'), samples: 8, ganforgeVersion: 'test' });
    const reason = mount(['--bind', runDir, readOnly]) ?? mount(['-o', 'remount,bind,ro', readOnly]);
    if (reason !== undefined) return t.skip(reason);
    mounted.push(readOnly);
    const latest = readFileSync(join(readOnly, LATEST_FILE));
    const model = readFileSync(join(readOnly, 'model.onnx'));
    await assert.rejects(saveCheckpoint({ runDir: readOnly, generator: generator(6), discriminator: discriminator(), sidecar: sidecar(2) }), isWriteFailure(join(readOnly, 'checkpoints', 'step-000002'), /the file system is read-only \(EROFS/));
    await assert.rejects(exportRun({ runDir: readOnly, outPath: join(readOnly, 'model.onnx'), samples: 8, ganforgeVersion: 'test' }), isWriteFailure(join(readOnly, 'model.onnx'), /read-only/));
    assert.deepEqual(readFileSync(join(readOnly, LATEST_FILE)), latest);
    assert.deepEqual(readFileSync(join(readOnly, 'model.onnx')), model);
    assert.deepEqual(readdirSync(join(readOnly, 'checkpoints')), ['step-000001']);
    assert.equal((await loadCheckpoint(readOnly)).sidecar.step, 1);
    writeFileSync(join(runDir, 'writable.txt'), 'the folder itself is still writable'); // only the view is read-only
  });
});
