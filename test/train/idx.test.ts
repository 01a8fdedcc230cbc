// IDX parsing on the real MNIST files and on malformed buffers; the dataset registry on names and paths, including a
// written IDX pair trained on by path.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GanforgeError } from '../../common/errors.ts';
import { encodeIdx, parseIdx } from '../../train/dataset/idx.ts';
import { DATASETS, FASHION_MNIST_CLASSES, loadDataset } from '../../train/dataset/registry.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import { trainGan } from '../../train/trainer.ts';
import { tempDir, useBestBackend } from './helpers.ts';

function isCode(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanforgeError, `expected GanforgeError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe('parseIdx', () => {
  it('reads the real MNIST training files: shape, dtype, known first labels and pixels', async () => {
    const ds = await loadDataset({ dataset: 'mnist' });
    assert.deepEqual(ds.shape, [60000, 28, 28, 1]);
    assert.equal(ds.labels!.length, 60000);
    // The first training digits of MNIST are 5, 0, 4, 1, 9, 2.
    assert.deepEqual([...ds.labels!.subarray(0, 6)], [5, 0, 4, 1, 9, 2]);
    assert.deepEqual(ds.classes, ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.images.subarray(0, 784 * 100)) { min = Math.min(min, v); max = Math.max(max, v); }
    assert.equal(min, -1);
    assert.equal(max, 1);
    // Image 0 row 14 (the middle of the 5) has ink: not all background.
    assert.ok(ds.images.subarray(14 * 28, 15 * 28).some((v) => v > 0));
  });

  it('reads the test split (first label 7) and honours limit', async () => {
    const ds = await loadDataset({ dataset: 'mnist', split: 'test', limit: 10 });
    assert.deepEqual(ds.shape, [10, 28, 28, 1]);
    assert.deepEqual([...ds.labels!.subarray(0, 3)], [7, 2, 1]);
  });

  it('round-trips every value type big-endian', () => {
    const cases = [
      { dtype: 'int16', data: Int16Array.from([-300, 2, 32767]) },
      { dtype: 'int32', data: Int32Array.from([-70000, 1, 2 ** 30]) },
      { dtype: 'float32', data: Float32Array.from([0.5, -1.25, 3e9]) },
      { dtype: 'float64', data: Float64Array.from([Math.PI, -1e-300, 2]) },
      { dtype: 'int8', data: Int8Array.from([-128, 0, 127]) },
    ] as const;
    for (const c of cases) {
      const parsed = parseIdx(encodeIdx({ dtype: c.dtype, shape: [3], data: c.data }), 'mem');
      assert.equal(parsed.dtype, c.dtype);
      assert.deepEqual([...parsed.data], [...c.data]);
    }
    const bytes = encodeIdx({ dtype: 'int16', shape: [1], data: Int16Array.from([0x0102]) });
    assert.deepEqual([...bytes.subarray(8)], [0x01, 0x02], 'values are stored big-endian');
  });

  it('rejects malformed buffers with INVALID_DATASET naming the problem', () => {
    const good = encodeIdx({ dtype: 'uint8', shape: [2, 2, 2], data: new Uint8Array(8) });
    assert.throws(() => parseIdx(Uint8Array.from([0, 0]), 'x.idx'), isCode('INVALID_DATASET', /x\.idx.*shorter/));
    const badMagic = good.slice(); badMagic[0] = 1;
    assert.throws(() => parseIdx(badMagic, 'x'), isCode('INVALID_DATASET', /two zero bytes/));
    const badType = good.slice(); badType[2] = 0x0a;
    assert.throws(() => parseIdx(badType, 'x'), isCode('INVALID_DATASET', /0x0A/));
    assert.throws(() => parseIdx(good.subarray(0, good.length - 1), 'x'), isCode('INVALID_DATASET', /truncated/));
    assert.throws(() => parseIdx(good.subarray(0, 10), 'x'), isCode('INVALID_DATASET', /header needs 16 bytes/));
    const extra = new Uint8Array(good.length + 3); extra.set(good);
    assert.throws(() => parseIdx(extra, 'x'), isCode('INVALID_DATASET', /trailing/));
  });
});

describe('loadDataset', () => {
  it('loads IDX files by path with labels and class names, scaled to [-1, 1]', async () => {
    const dir = await tempDir('idx');
    const images = join(dir, 'images.idx');
    const labels = join(dir, 'labels.idx');
    await writeFile(images, encodeIdx({ dtype: 'uint8', shape: [3, 2, 2], data: Uint8Array.from([0, 255, 0, 255, 51, 51, 51, 51, 0, 0, 0, 0]) }));
    await writeFile(labels, encodeIdx({ dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 0, 1]) }));
    const ds = await loadDataset({ dataset: images, labelsPath: labels, classNames: ['T-shirt', 'Trouser'] });
    assert.equal(ds.storage, 'memory');
    assert.deepEqual(ds.shape, [3, 2, 2, 1]);
    const batch = new Float32Array(8);
    ds.readImages([1, 0], batch);
    assert.ok(batch.subarray(0, 4).every((v) => Math.abs(v - (51 / 127.5 - 1)) < 1e-6), 'image 1 first');
    assert.deepEqual([...batch.subarray(4)], [-1, 1, -1, 1]);
    assert.throws(() => ds.readImages([3], batch), /\[0, 2\], got 3/);
    assert.throws(() => ds.readImages([0, 1, 2], batch), /'out' holds 8 values, 3 images need 12/);
    assert.deepEqual([...ds.labels!], [1, 0, 1]);
    assert.deepEqual(ds.classes, ['T-shirt', 'Trouser']);
    const unnamed = await loadDataset({ dataset: images, labelsPath: labels });
    assert.deepEqual(unnamed.classes, ['0', '1']);
    const unlabelled = await loadDataset({ dataset: images });
    assert.equal(unlabelled.labels, null);
    assert.equal(unlabelled.classes, null);
  });

  it('trains a conditional family on an IDX pair given by path (the Fashion-MNIST route), class names in the sidecar', async () => {
    await useBestBackend();
    const dir = await tempDir('idx-pair');
    const mnist = await loadDataset({ dataset: 'mnist', limit: 64 });
    const images = join(dir, 'train-images-idx3-ubyte');
    const labels = join(dir, 'train-labels-idx1-ubyte');
    await writeFile(images, encodeIdx({ dtype: 'uint8', shape: [64, 28, 28], data: Uint8Array.from(mnist.images, (v) => Math.round((v + 1) * 127.5)) }));
    await writeFile(labels, encodeIdx({ dtype: 'uint8', shape: [64], data: Uint8Array.from(mnist.labels!) }));
    const reread = await loadDataset({ dataset: images, labelsPath: labels, classNames: FASHION_MNIST_CLASSES });
    const batch = new Float32Array(64 * 784);
    reread.readImages(Int32Array.from({ length: 64 }, (_, i) => i), batch);
    assert.deepEqual(batch, mnist.images);
    const outDir = await tempDir('idx-pair-run');
    const result = await trainGan({
      family: 'cgan', familyConfig: { generatorUnits: [16], discriminatorUnits: [16] }, dataset: images,
      datasetOptions: { labelsPath: labels, classNames: FASHION_MNIST_CLASSES }, steps: 2, batchSize: 16, latentDim: 8, outDir, progress: false,
    });
    assert.equal(result.step, 2);
    const { sidecar } = await loadCheckpoint(outDir);
    assert.ok(sidecar.dataset.endsWith('train-images-idx3-ubyte'), sidecar.dataset); // stored absolute or relative to the run
    assert.deepEqual(sidecar.classes, FASHION_MNIST_CLASSES);
    assert.deepEqual(sidecar.imageShape, [28, 28, 1]);
  });

  it('rejects a label count that differs from the image count, and labels beyond the class names', async () => {
    const dir = await tempDir('idx');
    const images = join(dir, 'images.idx');
    const labels = join(dir, 'labels.idx');
    await writeFile(images, encodeIdx({ dtype: 'uint8', shape: [3, 2, 2], data: new Uint8Array(12) }));
    await writeFile(labels, encodeIdx({ dtype: 'uint8', shape: [2], data: Uint8Array.from([0, 1]) }));
    await assert.rejects(loadDataset({ dataset: images, labelsPath: labels }), isCode('INVALID_DATASET', /2 labels for 3 images/));
    await writeFile(labels, encodeIdx({ dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 1, 5]) }));
    await assert.rejects(loadDataset({ dataset: images, labelsPath: labels, classNames: ['a', 'b'] }), isCode('INVALID_DATASET', /label 5 has no class name/));
  });

  it('names the file whose magic number is wrong, and rejects image-folder options for IDX files', async () => {
    const dir = await tempDir('idx');
    const images = join(dir, 'images.idx');
    const bytes = encodeIdx({ dtype: 'uint8', shape: [1, 2, 2], data: new Uint8Array(4) });
    bytes[1] = 0x08;
    await writeFile(images, bytes);
    await assert.rejects(loadDataset({ dataset: images }), isCode('INVALID_DATASET', new RegExp(`${images.replace(/[.\\/]/g, '\\$&')}: not a valid IDX file: magic must start with two zero bytes, got 0x00 0x08`)));
    await assert.rejects(loadDataset({ dataset: images, imageSize: 32 }), (e: unknown) => e instanceof RangeError && /'imageSize' applies to image folders/.test(e.message));
    await assert.rejects(loadDataset({ dataset: 'mnist', channels: 3 }), (e: unknown) => e instanceof RangeError && /'channels' applies to image folders, not to the named dataset 'mnist'/.test(e.message));
  });

  it('rejects unknown names with UNKNOWN_DATASET listing the valid ones', async () => {
    await assert.rejects(loadDataset({ dataset: 'nmist' }), isCode('UNKNOWN_DATASET', new RegExp(`'nmist'.*${Object.keys(DATASETS).join(', ')}`)));
  });
});
