// Image folders as datasets: classes from sub-folders, centre-crop + resize on images with known pixels, grey vs RGB,
// the decode cache (reused, invalidated on change), the disk-streaming path against the in-memory one, every error by
// code and message, and a short real training run on the generated shapes folder.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { GanforgeError } from '../../common/errors.ts';
import { SeededRandom } from '../../common/random.ts';
import { drawShape, writeShapesFolder } from '../../scripts/make-shapes-folder.ts';
import { CACHE_DIR_NAME, MAX_UPSCALE, loadImageFolder } from '../../train/dataset/image-folder.ts';
import { loadDataset, type AnyDataset } from '../../train/dataset/registry.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import { trainGan } from '../../train/trainer.ts';
import { tempDir, useBestBackend } from './helpers.ts';

function isCode(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanforgeError, `expected GanforgeError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

const escape = (path: string) => path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Writes raw 8-bit pixels (1 or 3 channels) as a PNG or JPEG file. */
async function writeImage(path: string, width: number, height: number, channels: 1 | 3, pixel: (x: number, y: number) => number[], format: 'png' | 'jpeg' = 'png'): Promise<void> {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * channels);
  // A 1-band raw image is written as RGB unless told it is grey.
  const image = sharp(data, { raw: { width, height, channels } }).toColourspace(channels === 1 ? 'b-w' : 'srgb');
  await (format === 'png' ? image.png() : image.jpeg({ quality: 95 })).toFile(path);
}

/** Every image of a dataset through readImages, as one array. */
function allImages(ds: AnyDataset): Float32Array {
  const [count, h, w, c] = ds.shape;
  const out = new Float32Array(count * h * w * c);
  ds.readImages(Int32Array.from({ length: count }, (_, i) => i), out);
  return out;
}

const byte = (v: number) => Math.round((v + 1) * 127.5);

describe('image folder datasets', () => {
  let shapes: string;
  before(async () => {
    shapes = join(await tempDir('shapes'), 'shapes');
    await writeShapesFolder({ out: shapes, perClass: 10, jpegEvery: 5 });
  });

  it('takes classes from sorted sub-folders and labels from the folder each image is in; PNG pixels arrive exactly', async () => {
    const { dataset: ds, info } = await loadImageFolder({ folder: shapes });
    assert.equal(info.decoded, true);
    assert.equal(ds.storage, 'memory');
    assert.deepEqual(ds.shape, [30, 32, 32, 3]);
    assert.deepEqual(ds.classes, ['circle', 'square', 'triangle']);
    assert.deepEqual([...ds.labels!], [...Array<number>(10).fill(0), ...Array<number>(10).fill(1), ...Array<number>(10).fill(2)]);
    // circle-00000.png is the first image the script draws for class 0: the same bytes after decoding, cache and scaling.
    const expected = drawShape('circle', 32, new SeededRandom(0, 0));
    const first = new Float32Array(32 * 32 * 3);
    ds.readImages([0], first);
    assert.deepEqual(Array.from(first, byte), [...expected]);
    // The sixth file of square/ (index 15) is a JPEG (every 5th): decoded, near but not equal to what was drawn.
    const random = new SeededRandom(0, 1);
    let drawn: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 5; i++) drawn = drawShape('square', 32, random);
    const jpeg = new Float32Array(32 * 32 * 3);
    ds.readImages([14], jpeg);
    const meanError = Array.from(jpeg, byte).reduce((s, v, i) => s + Math.abs(v - drawn[i]!), 0) / drawn.length;
    assert.ok(meanError > 0 && meanError < 4, `JPEG mean abs error ${meanError}`);
    // The named-dataset entry point reaches the same folder.
    const viaRegistry = await loadDataset({ dataset: shapes });
    assert.deepEqual(viaRegistry.classes, ds.classes);
    assert.deepEqual(allImages(viaRegistry), allImages(ds));
  });

  it('limit keeps every class, taking images round-robin', async () => {
    const { dataset: ds } = await loadImageFolder({ folder: shapes, limit: 5 });
    assert.deepEqual([...ds.labels!], [0, 0, 1, 1, 2]);
  });

  it('centre-crops non-square images and resizes them to imageSize', async () => {
    const dir = await tempDir('crop');
    // 48×32: columns 0-7 blue, 8-39 red (the centre square), 40-47 green. 32×48: rows 0-7 and 40-47 white, centre grey.
    await writeImage(join(dir, 'wide.png'), 48, 32, 3, (x) => (x < 8 ? [0, 0, 255] : x < 40 ? [255, 0, 0] : [0, 255, 0]));
    await writeImage(join(dir, 'tall.png'), 32, 48, 3, (_x, y) => (y < 8 || y >= 40 ? [255, 255, 255] : [100, 100, 100]));
    for (const imageSize of [32, 16]) {
      const { dataset: ds } = await loadImageFolder({ folder: dir, imageSize });
      assert.deepEqual(ds.shape, [2, imageSize, imageSize, 3]);
      const px = Array.from(allImages(ds), byte);
      const n = imageSize * imageSize * 3;
      // Files sort as tall.png, wide.png.
      assert.ok(px.slice(0, n).every((v) => v === 100), `tall centre is grey at ${imageSize}`);
      const wide = px.slice(n);
      for (let i = 0; i < n; i += 3) assert.deepEqual(wide.slice(i, i + 3), [255, 0, 0], `wide centre is red at ${imageSize}, pixel ${i / 3}`);
    }
    // EXIF orientation is applied before cropping: the 48×32 image stored with orientation 6 (rotate 90°) is 32×48.
    const rotated = await tempDir('orient');
    const wide = new Uint8Array(48 * 32 * 3);
    for (let i = 0; i < 48 * 32; i++) wide.set(i % 48 < 8 || i % 48 >= 40 ? [0, 0, 255] : [255, 0, 0], 3 * i);
    await sharp(wide, { raw: { width: 48, height: 32, channels: 3 } }).withMetadata({ orientation: 6 }).png().toFile(join(rotated, 'r.png'));
    await assert.rejects(loadImageFolder({ folder: rotated }), isCode('INVALID_DATASET', /images are 32×48, not square/));
    const { dataset: upright } = await loadImageFolder({ folder: rotated, imageSize: 16 });
    assert.ok(Array.from(allImages(upright), byte).every((v, i) => v === [255, 0, 0][i % 3]), 'centre of the oriented image');
    // A smooth gradient shrinks to the average of each 2×2 block (within resampling error), not to a sample of one.
    const grad = await tempDir('gradient');
    await writeImage(join(grad, 'g.png'), 64, 64, 1, (x) => [x * 4]);
    const { dataset: small } = await loadImageFolder({ folder: grad, imageSize: 32 });
    const row = Array.from(allImages(small).subarray(0, 32), byte);
    for (let x = 2; x < 30; x++) assert.ok(Math.abs(row[x]! - (8 * x + 2)) <= 2, `column ${x}: ${row[x]} vs ${8 * x + 2}`);
  });

  it('defaults to 1 channel for grey images and 3 when any image has colour; converts by luma either way', async () => {
    const dir = await tempDir('grey');
    await writeImage(join(dir, 'a.png'), 16, 16, 1, () => [200]);
    await writeImage(join(dir, 'b.png'), 16, 16, 1, (x) => [x * 10]);
    const { dataset: grey } = await loadImageFolder({ folder: dir });
    assert.deepEqual(grey.shape, [2, 16, 16, 1]);
    assert.equal(grey.labels, null);
    assert.equal(grey.classes, null);
    assert.ok(Array.from(allImages(grey).subarray(0, 256), byte).every((v) => v === 200));
    const { dataset: greyAsRgb } = await loadImageFolder({ folder: dir, channels: 3 });
    assert.deepEqual(Array.from(allImages(greyAsRgb).subarray(0, 6), byte), [200, 200, 200, 200, 200, 200]);

    await writeImage(join(dir, 'c.png'), 16, 16, 3, () => [255, 0, 0]);
    const { dataset: rgb } = await loadImageFolder({ folder: dir });
    assert.deepEqual(rgb.shape, [3, 16, 16, 3]);
    const { dataset: luma } = await loadImageFolder({ folder: dir, channels: 1 });
    const red = allImages(luma).subarray(2 * 256, 3 * 256);
    assert.ok(red.every((v) => byte(v) === Math.round(0.299 * 255)), 'pure red → luma 76');
  });

  it('reuses the decode cache (same file, not rewritten) and rebuilds it when an image changes', async () => {
    const dir = await tempDir('cache');
    await writeImage(join(dir, 'a.png'), 16, 16, 3, () => [10, 20, 30]);
    await writeImage(join(dir, 'b.png'), 16, 16, 3, () => [40, 50, 60]);
    const first = await loadImageFolder({ folder: dir });
    assert.equal(first.info.decoded, true);
    assert.ok(first.info.cachePath.startsWith(join(dir, CACHE_DIR_NAME)));
    const before = await stat(first.info.cachePath);
    const second = await loadImageFolder({ folder: dir });
    assert.equal(second.info.decoded, false);
    assert.equal(second.info.cachePath, first.info.cachePath);
    const after = await stat(second.info.cachePath);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.deepEqual(allImages(second.dataset), allImages(first.dataset));
    // Other options are other caches.
    const grey = await loadImageFolder({ folder: dir, channels: 1 });
    assert.equal(grey.info.decoded, true);
    assert.notEqual(grey.info.cachePath, first.info.cachePath);

    await writeImage(join(dir, 'b.png'), 16, 16, 3, () => [70, 80, 90]);
    const stamp = new Date(Date.now() + 5000);
    await utimes(join(dir, 'b.png'), stamp, stamp);
    const changed = await loadImageFolder({ folder: dir });
    assert.equal(changed.info.decoded, true);
    assert.notEqual(changed.info.cachePath, first.info.cachePath);
    // The superseded cache of the same options is deleted; the grey one (other options) stays.
    const kept = await readdir(join(dir, CACHE_DIR_NAME));
    assert.deepEqual(kept.sort(), [changed.info.cachePath, changed.info.indexPath, grey.info.cachePath, grey.info.indexPath].map((p) => basename(p)).sort());
    assert.deepEqual(Array.from(allImages(changed.dataset).subarray(768, 771), byte), [70, 80, 90]);
    // A cache file cut short (a crash mid-copy, a full disk) is not trusted: it is decoded again.
    await writeFile(changed.info.cachePath, (await readFile(changed.info.cachePath)).subarray(0, 100));
    const repaired = await loadImageFolder({ folder: dir });
    assert.equal(repaired.info.decoded, true);
    assert.deepEqual(allImages(repaired.dataset), allImages(changed.dataset));
    assert.ok(!(await readdir(join(dir, CACHE_DIR_NAME))).some((n) => n.startsWith('.tmp-')), 'no temp file left');
  });

  it('streams from the disk cache above maxInMemoryBytes, reading the same values as the in-memory path', async () => {
    const memory = (await loadImageFolder({ folder: shapes })).dataset;
    const { dataset: disk, info } = await loadImageFolder({ folder: shapes, maxInMemoryBytes: 30 * 32 * 32 * 3 * 4 - 1 });
    assert.equal(info.decoded, false, 'same cache as the in-memory load');
    assert.equal(memory.storage, 'memory');
    assert.equal(disk.storage, 'disk');
    assert.equal(disk.images, null);
    assert.deepEqual(disk.shape, memory.shape);
    assert.deepEqual(disk.labels, memory.labels);
    assert.deepEqual(allImages(disk), allImages(memory));
    const order = [29, 3, 3, 17, 0];
    const a = new Float32Array(order.length * 3072);
    const b = new Float32Array(order.length * 3072);
    disk.readImages(order, a);
    memory.readImages(order, b);
    assert.deepEqual(a, b);
    assert.throws(() => disk.readImages([30], a), (e: unknown) => e instanceof RangeError && /\[0, 29\], got 30/.test(e.message));
    assert.throws(() => disk.readImages(order, new Float32Array(10)), /'out' holds 10 values/);
    if (disk.storage === 'disk') disk.close();
    assert.throws(() => disk.readImages([0], a), /after close/);
  });

  describe('errors name the file and the problem', () => {
    it('an empty folder, a folder with only other files, an empty class folder, images beside class folders', async () => {
      const empty = await tempDir('empty');
      await assert.rejects(loadImageFolder({ folder: empty }), isCode('INVALID_DATASET', new RegExp(`${escape(empty)} holds no PNG or JPEG images.*it is empty`)));
      await writeFile(join(empty, 'notes.txt'), 'hello');
      await writeFile(join(empty, 'data.csv'), '1,2');
      await assert.rejects(loadImageFolder({ folder: empty }), isCode('INVALID_DATASET', /holds no PNG or JPEG images.*found only data\.csv, notes\.txt/));
      await assert.rejects(loadDataset({ dataset: empty }), isCode('INVALID_DATASET', /holds no PNG or JPEG images/));

      const classes = await tempDir('classes');
      await mkdir(join(classes, 'cats'));
      await mkdir(join(classes, 'dogs'));
      await writeImage(join(classes, 'cats', 'a.png'), 16, 16, 3, () => [1, 2, 3]);
      await writeFile(join(classes, 'dogs', 'readme.txt'), 'no dogs yet');
      await assert.rejects(loadImageFolder({ folder: classes }), isCode('INVALID_DATASET', new RegExp(`class folder ${escape(join(classes, 'dogs'))} holds no PNG or JPEG images`)));
      await writeImage(join(classes, 'dogs', 'b.png'), 16, 16, 3, () => [1, 2, 3]);
      await writeImage(join(classes, 'stray.png'), 16, 16, 3, () => [1, 2, 3]);
      await assert.rejects(loadImageFolder({ folder: classes }), isCode('INVALID_DATASET', /both class sub-folders \(cats, dogs\) and images directly in it \(stray\.png\)/));
    });

    it('a truncated PNG, a truncated JPEG and a file that is not an image, with no cache left behind', async () => {
      for (const format of ['png', 'jpeg'] as const) {
        const dir = await tempDir(`truncated-${format}`);
        await writeImage(join(dir, `ok.${format}`), 32, 32, 3, (x, y) => [x * 8, y * 8, 128]);
        const bad = join(dir, `bad.${format}`);
        await writeImage(bad, 32, 32, 3, (x, y) => [(x * y) % 256, x * 8, y * 8], format);
        const bytes = await readFile(bad);
        await writeFile(bad, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
        await assert.rejects(loadImageFolder({ folder: dir }), isCode('INVALID_DATASET', new RegExp(`${escape(bad)}: cannot decode the image`)));
        const cache = await readdir(join(dir, CACHE_DIR_NAME)).catch(() => []);
        assert.deepEqual(cache, [], `nothing cached after a failed decode: ${cache.join(', ')}`);
      }
      const dir = await tempDir('fake');
      const fake = join(dir, 'photo.jpg');
      await writeFile(fake, 'this is text, not a JPEG');
      await assert.rejects(loadImageFolder({ folder: dir }), isCode('INVALID_DATASET', new RegExp(`${escape(fake)}: not a readable PNG or JPEG image`)));
    });

    it('images too small, too elongated, upscaled too far, of mixed sizes or not square without imageSize', async () => {
      const cases: { files: [string, number, number][]; imageSize?: number; pattern: RegExp }[] = [
        { files: [['tiny.png', 5, 7]], imageSize: 16, pattern: /tiny\.png: 5×7 is too small; both sides must be at least 8 px/ },
        { files: [['strip.png', 100, 20]], imageSize: 16, pattern: /strip\.png: 100×20 is too elongated .*keep 20%/ },
        { files: [['small.png', 10, 10]], imageSize: 64, pattern: new RegExp(`small\\.png: 10×10 would be upscaled 6\\.4× to 64×64 \\(at most ${MAX_UPSCALE}×\\)`) },
        { files: [['a.png', 32, 32], ['b.png', 48, 48]], pattern: /images differ in size \(.*a\.png is 32×32, .*b\.png is 48×48\): give --image-size/ },
        { files: [['a.png', 48, 32], ['b.png', 48, 32]], pattern: /images are 48×32, not square .*give --image-size/ },
      ];
      for (const c of cases) {
        const dir = await tempDir('shape');
        for (const [name, w, h] of c.files) await writeImage(join(dir, name), w, h, 3, () => [9, 9, 9]);
        await assert.rejects(loadImageFolder({ folder: dir, imageSize: c.imageSize }), isCode('INVALID_DATASET', c.pattern));
      }
      const dir = await tempDir('mixed');
      await writeImage(join(dir, 'a.png'), 32, 32, 3, () => [9, 9, 9]);
      await writeImage(join(dir, 'b.png'), 48, 40, 3, () => [9, 9, 9]);
      const { dataset } = await loadImageFolder({ folder: dir, imageSize: 24 });
      assert.deepEqual(dataset.shape, [2, 24, 24, 3]);
    });

    it('bad options: RangeError naming the option', async () => {
      await assert.rejects(loadImageFolder({ folder: shapes, imageSize: 4 }), (e: unknown) => e instanceof RangeError && /'imageSize' must be an integer in \[8, 1024\], got 4/.test(e.message));
      await assert.rejects(loadImageFolder({ folder: shapes, channels: 2 as 1 }), (e: unknown) => e instanceof RangeError && /'channels' must be 1 or 3, got 2/.test(e.message));
      await assert.rejects(loadDataset({ dataset: shapes, labelsPath: 'x' }), (e: unknown) => e instanceof RangeError && /'labelsPath' applies to IDX files/.test(e.message));
      await assert.rejects(loadDataset({ dataset: join(shapes, 'nope') }), isCode('UNKNOWN_DATASET', /no file or folder at/));
    });
  });

  it('trains cdcgan on the generated folder streamed from disk and writes a 3-channel sample grid', async () => {
    await useBestBackend();
    const outDir = await tempDir('folder-train');
    const result = await trainGan({
      family: 'cdcgan', familyConfig: { generatorChannels: 16, discriminatorChannels: 8 }, dataset: shapes,
      datasetOptions: { maxInMemoryBytes: 0 }, steps: 3, batchSize: 10, latentDim: 8, outDir, progress: false,
    });
    assert.equal(result.step, 3);
    assert.ok(result.metrics !== null && Number.isFinite(result.metrics.dLoss) && Number.isFinite(result.metrics.gLoss));
    const grid = result.samples[result.samples.length - 1]!;
    const meta = await sharp(grid).metadata();
    assert.equal(meta.channels, 3, 'RGB sample grid');
    assert.ok(meta.width >= 32 && meta.height >= 32);
    const { sidecar } = await loadCheckpoint(outDir);
    assert.deepEqual(sidecar.classes, ['circle', 'square', 'triangle']);
    assert.deepEqual(sidecar.imageShape, [32, 32, 3]);
    assert.ok(sidecar.dataset.endsWith('shapes'), sidecar.dataset); // stored absolute or relative to the run
  });
});
