// A folder of the user's own PNG/JPEG images as a dataset. Every image is validated and decoded once (sharp: libvips,
// never a hand-written decoder), centre-cropped to a square, resized to the model size and stored as uint8 NHWC in an
// on-disk cache keyed by the file list, so a second run starts at once and a folder larger than memory can still be
// trained on: a big cache is read batch by batch at file offsets instead of being held as one Float32Array.
//
//   <folder>/<class>/**.png|jpg|jpeg   → labelled, classes = sub-folder names in sorted order
//   <folder>/*.png|jpg|jpeg            → unlabelled
//   <folder>/.ganforge-cache/<key>.u8 + <key>.json   (key = sha256 of options + relative paths, sizes, mtimes)
//
// Decoding finishes (or fails, naming the file) before loadImageFolder resolves: nothing trains on half-read data.

import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import sharp, { type OutputInfo } from 'sharp';
import { GanforgeError } from '../../common/errors.ts';
import { TEMP_PREFIX, fsyncPath, writeFileAtomic } from '../atomic-write.ts';
import { inMemoryDataset, type Dataset, type DiskDataset } from './dataset.ts';

/** File extensions read as images (case-insensitive); any other file is ignored. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;
/** Name of the cache folder created inside the image folder (skipped when scanning: it starts with a dot). */
export const CACHE_DIR_NAME = '.ganforge-cache';
/**
 * Default ceiling on the Float32Array a folder dataset may occupy in memory: 1 GiB, i.e. a uint8 cache of 256 MiB
 * (≈ 87k RGB 32×32 or 21k RGB 64×64 images). A larger cache is streamed from disk. Memory is ~4× the cache because
 * tfjs wants float32; streaming costs one positioned read per image per batch (≈ 3 KB each at 32×32 RGB).
 */
export const DEFAULT_MAX_IN_MEMORY_BYTES = 1024 ** 3;
/** Shorter side below which an image is rejected as too small to learn from. */
export const MIN_IMAGE_SIDE = 8;
/** Longest side / shortest side above which centre-cropping would throw most of the image away. */
export const MAX_ASPECT_RATIO = 3;
/** Largest factor an image may be upscaled by to reach the model size (beyond it the model learns blur). */
export const MAX_UPSCALE = 4;

const CACHE_FORMAT = 'ganforge-image-cache/1';
/** Files decoded at once: sharp runs each decode on libuv's thread pool, so a few in flight keep both cores busy. */
const DECODE_CONCURRENCY = 4;

export interface ImageFolderOptions {
  /** The folder (see the file comment for the layout). */
  folder: string;
  /** Side of the square images fed to the model. Default: the images' own size when they all agree and are square. */
  imageSize?: number;
  /** 1 (grey, by Rec. 601 luma 0.299 R + 0.587 G + 0.114 B) or 3 (RGB). Default: 3 if any image is stored in colour, else 1. */
  channels?: 1 | 3;
  /** Keep only `limit` images, taken round-robin over the classes so every class stays represented. Default: all. */
  limit?: number;
  /** Where the decoded cache lives. Default <folder>/.ganforge-cache. */
  cacheDir?: string;
  /** Above this many bytes of float32 pixels the dataset is read from the disk cache per batch. Default 1 GiB. */
  maxInMemoryBytes?: number;
}

interface ImageFile {
  path: string;
  /** Path relative to the folder with '/' separators (stable across platforms, part of the cache key). */
  rel: string;
  label: number | null;
  size: number;
  mtimeMs: number;
}

interface CacheIndex {
  format: typeof CACHE_FORMAT;
  key: string;
  /** The options part of the key: a new cache of the same variant supersedes the old one (files changed). */
  variant: string;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  classes: string[] | null;
  labels: number[] | null;
  files: string[];
}

/** What loadImageFolder did, for tests and logs: whether the cache was built now and which path serves the pixels. */
export interface ImageFolderInfo {
  cachePath: string;
  indexPath: string;
  /** True when this call decoded the images; false when an existing cache was reused. */
  decoded: boolean;
}

const invalid = (message: string, cause?: unknown) => new GanforgeError('INVALID_DATASET', message, cause === undefined ? { parameter: 'dataset' } : { parameter: 'dataset', cause });

/** Loads an image folder, decoding it into the cache unless a cache for the same files and options exists. */
export async function loadImageFolder(options: ImageFolderOptions): Promise<{ dataset: Dataset | DiskDataset; info: ImageFolderInfo }> {
  const folder = resolve(options.folder);
  const { imageSize, channels, limit, maxInMemoryBytes = DEFAULT_MAX_IN_MEMORY_BYTES } = options;
  if (imageSize !== undefined && (!Number.isInteger(imageSize) || imageSize < MIN_IMAGE_SIDE || imageSize > 1024)) {
    throw new RangeError(`'imageSize' must be an integer in [${MIN_IMAGE_SIDE}, 1024], got ${imageSize}`);
  }
  if (channels !== undefined && channels !== 1 && channels !== 3) throw new RangeError(`'channels' must be 1 or 3, got ${String(channels)}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`'limit' must be a positive integer, got ${limit}`);
  if (!(maxInMemoryBytes >= 0)) throw new RangeError(`'maxInMemoryBytes' must be a non-negative number, got ${maxInMemoryBytes}`);
  const cacheDir = resolve(options.cacheDir ?? join(folder, CACHE_DIR_NAME));

  const scan = await scanFolder(folder, resolve(cacheDir));
  const files = limit === undefined ? scan.files : roundRobin(scan.files, scan.classes?.length ?? 1, limit);
  const variant = JSON.stringify({ imageSize: imageSize ?? 'auto', channels: channels ?? 'auto', limit: limit ?? null });
  const key = createHash('sha256')
    .update(JSON.stringify({ format: CACHE_FORMAT, variant, files: files.map((f) => [f.rel, f.size, f.mtimeMs]) }))
    .digest('hex').slice(0, 24);
  const cachePath = join(cacheDir, `${key}.u8`);
  const indexPath = join(cacheDir, `${key}.json`);

  let index = await readCacheIndex(indexPath, cachePath, key);
  const decoded = index === null;
  if (index === null) {
    const shape = await inspectImages(files, imageSize, channels);
    index = await decodeIntoCache(files, scan.classes, shape, key, variant, cacheDir, cachePath, indexPath);
    await removeSupersededCaches(cacheDir, index);
  }
  const name = folder;
  const labels = index.labels === null ? null : Int32Array.from(index.labels);
  const shape: [number, number, number, number] = [index.count, index.height, index.width, index.channels];
  const floatBytes = index.count * index.height * index.width * index.channels * 4;
  const dataset = floatBytes <= maxInMemoryBytes
    ? inMemoryDataset({ name, images: bytesToSymmetric(await readFile(cachePath)), shape, labels, classes: index.classes })
    : diskDataset(name, cachePath, shape, labels, index.classes);
  return { dataset, info: { cachePath, indexPath, decoded } };
}

async function scanFolder(folder: string, cacheDir: string): Promise<{ files: ImageFile[]; classes: string[] | null }> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (cause) {
    throw new GanforgeError('UNKNOWN_DATASET', `cannot read dataset folder ${folder}: ${(cause as Error).message}`, { cause, parameter: 'dataset' });
  }
  const visible = entries.filter((e) => !e.name.startsWith('.') && join(folder, e.name) !== cacheDir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const dirs: string[] = [];
  const loose: string[] = [];
  const others: string[] = [];
  for (const e of visible) {
    const full = join(folder, e.name);
    const kind = e.isSymbolicLink() ? await stat(full).then((s) => (s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'), () => 'other') : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other';
    if (kind === 'dir') dirs.push(e.name);
    else if (kind === 'file' && isImageName(e.name)) loose.push(full);
    else others.push(e.name);
  }
  if (dirs.length > 0 && loose.length > 0) {
    throw invalid(`${folder} has both class sub-folders (${list(dirs)}) and images directly in it (${list(loose.map((p) => relative(folder, p)))}): ` +
      'put every image in a class folder for a labelled dataset, or no sub-folders for an unlabelled one');
  }
  const files: ImageFile[] = [];
  if (dirs.length === 0) {
    if (loose.length === 0) {
      throw invalid(`${folder} holds no PNG or JPEG images (${IMAGE_EXTENSIONS.join(', ')}) and no class sub-folders` +
        (others.length > 0 ? `; found only ${list(others)}` : '; it is empty'));
    }
    for (const path of loose) files.push(await describeFile(folder, path, null));
    return { files, classes: null };
  }
  for (const [label, dir] of dirs.entries()) {
    const paths = await imagesUnder(join(folder, dir));
    if (paths.length === 0) throw invalid(`class folder ${join(folder, dir)} holds no PNG or JPEG images (${IMAGE_EXTENSIONS.join(', ')}); every sub-folder of ${folder} is a class`);
    for (const path of paths) files.push(await describeFile(folder, path, label));
  }
  return { files, classes: dirs };
}

/** Image files anywhere below `dir` (hidden entries skipped), sorted by path. */
async function imagesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isImageName(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => !relative(dir, p).split(sep).some((part) => part.startsWith('.')))
    .sort();
}

function isImageName(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

async function describeFile(folder: string, path: string, label: number | null): Promise<ImageFile> {
  const info = await stat(path);
  return { path, rel: relative(folder, path).split(sep).join('/'), label, size: info.size, mtimeMs: info.mtimeMs };
}

function list(names: string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/** `limit` files taken class by class in turn (file order within a class), then restored to (class, name) order. */
function roundRobin(files: ImageFile[], classCount: number, limit: number): ImageFile[] {
  if (limit >= files.length) return files;
  const byClass = Array.from({ length: classCount }, () => [] as ImageFile[]);
  for (const f of files) byClass[f.label ?? 0]!.push(f);
  const picked = new Set<ImageFile>();
  for (let i = 0; picked.size < limit; i++) {
    for (const group of byClass) {
      if (i < group.length && picked.size < limit) picked.add(group[i]!);
    }
  }
  return files.filter((f) => picked.has(f));
}

interface ResolvedShape {
  size: number;
  channels: 1 | 3;
}

/** Reads every header (fast: no pixels), checks each image can be cropped and resized, and settles size and channels. */
async function inspectImages(files: ImageFile[], imageSize: number | undefined, channels: 1 | 3 | undefined): Promise<ResolvedShape> {
  const dims = await mapLimited(files, DECODE_CONCURRENCY, async (f) => {
    let meta;
    try {
      meta = await sharp(f.path).metadata();
    } catch (cause) {
      throw invalid(`${f.path}: not a readable PNG or JPEG image: ${(cause as Error).message}`, cause);
    }
    const { width, height } = meta.autoOrient;
    const colour = meta.channels - (meta.hasAlpha ? 1 : 0) >= 3;
    return { width, height, colour };
  });
  for (const [i, { width, height }] of dims.entries()) {
    const path = files[i]!.path;
    const short = Math.min(width, height);
    if (short < MIN_IMAGE_SIDE) throw invalid(`${path}: ${width}×${height} is too small; both sides must be at least ${MIN_IMAGE_SIDE} px`);
    if (Math.max(width, height) / short > MAX_ASPECT_RATIO) {
      throw invalid(`${path}: ${width}×${height} is too elongated to centre-crop to a square (it would keep ${Math.round((100 * short) / Math.max(width, height))}% of the image); ` +
        `the long side may be at most ${MAX_ASPECT_RATIO}× the short side`);
    }
    if (imageSize !== undefined && imageSize > short * MAX_UPSCALE) {
      throw invalid(`${path}: ${width}×${height} would be upscaled ${(imageSize / short).toFixed(1)}× to ${imageSize}×${imageSize} (at most ${MAX_UPSCALE}×); ` +
        'give a smaller --image-size or remove the image');
    }
  }
  let size = imageSize;
  if (size === undefined) {
    const first = dims[0]!;
    const other = dims.findIndex((d) => d.width !== first.width || d.height !== first.height);
    if (other >= 0) {
      throw invalid(`images differ in size (${files[0]!.path} is ${first.width}×${first.height}, ${files[other]!.path} is ${dims[other]!.width}×${dims[other]!.height}): ` +
        'give --image-size N (option imageSize) to centre-crop and resize every image to N×N');
    }
    if (first.width !== first.height) {
      throw invalid(`images are ${first.width}×${first.height}, not square (e.g. ${files[0]!.path}): give --image-size N (option imageSize) to centre-crop and resize them to N×N`);
    }
    size = first.width;
  }
  return { size, channels: channels ?? (dims.some((d) => d.colour) ? 3 : 1) };
}

/** Decodes every file into a temp cache file at its offset, then renames it and writes the index (the commit point). */
async function decodeIntoCache(files: ImageFile[], classes: string[] | null, shape: ResolvedShape, key: string, variant: string, cacheDir: string,
  cachePath: string, indexPath: string): Promise<CacheIndex> {
  const { size, channels } = shape;
  const imageBytes = size * size * channels;
  try {
    await mkdir(cacheDir, { recursive: true });
  } catch (cause) {
    throw invalid(`cannot create the decode cache folder ${cacheDir}: ${(cause as Error).message}; give another with --cache-dir (option cacheDir)`, cause);
  }
  const temp = join(cacheDir, `${TEMP_PREFIX}${key}-${process.pid}-${Date.now()}.u8`);
  const handle = await open(temp, 'w');
  try {
    await mapLimited(files, DECODE_CONCURRENCY, async (f, i) => {
      const pixels = await decodeImage(f.path, size, channels);
      await handle.write(pixels, 0, imageBytes, i * imageBytes);
    });
    await handle.sync();
    await handle.close();
    await rename(temp, cachePath);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(cacheDir);
  const index: CacheIndex = {
    format: CACHE_FORMAT, key, variant, count: files.length, height: size, width: size, channels, classes,
    labels: classes === null ? null : files.map((f) => f.label!), files: files.map((f) => f.rel),
  };
  await writeFileAtomic(indexPath, `${JSON.stringify(index)}\n`);
  return index;
}

/** One image → `size`×`size`×`channels` bytes: orient, flatten alpha onto black, centre-crop, resize, convert. */
export async function decodeImage(path: string, size: number, channels: 1 | 3): Promise<Uint8Array> {
  let data: Buffer;
  let info: OutputInfo;
  try {
    // failOn 'warning' (sharp's default, stated here on purpose): a truncated file is an error, not a grey bottom half.
    const image = sharp(path, { autoOrient: true, failOn: 'warning' });
    const { autoOrient: { width, height } } = await image.metadata();
    const side = Math.min(width, height);
    ({ data, info } = await image
      .extract({ left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side })
      .resize(size, size, { fit: 'fill' })
      .flatten({ background: '#000000' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (cause) {
    throw invalid(`${path}: cannot decode the image (truncated or corrupt?): ${(cause as Error).message}`, cause);
  }
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw invalid(`${path}: decoded to ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
  }
  if (channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  const grey = new Uint8Array(size * size);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.round(0.299 * data[3 * i]! + 0.587 * data[3 * i + 1]! + 0.114 * data[3 * i + 2]!);
  return grey;
}

/**
 * Deletes the caches of the same variant (same options) that `current` replaces because files changed, so editing a
 * folder does not pile up copies of it. Caches of other options stay. A process still streaming a deleted cache keeps
 * reading it through its open descriptor.
 */
async function removeSupersededCaches(cacheDir: string, current: CacheIndex): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    if (!name.endsWith('.json') || name === `${current.key}.json`) continue;
    try {
      const other = JSON.parse(await readFile(join(cacheDir, name), 'utf8')) as Partial<CacheIndex>;
      if (other.format !== CACHE_FORMAT || other.variant !== current.variant || typeof other.key !== 'string') continue;
      await rm(join(cacheDir, name), { force: true });
      await rm(join(cacheDir, `${other.key}.u8`), { force: true });
    } catch {
      // Unreadable or vanished meanwhile (another process cleaning up): leave it.
    }
  }
}

/** The index of a complete cache for `key`, or null when there is none (or it is damaged: then it is rebuilt). */
async function readCacheIndex(indexPath: string, cachePath: string, key: string): Promise<CacheIndex | null> {
  let index: CacheIndex;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as CacheIndex;
    const bytes = (await stat(cachePath)).size;
    if (index.format !== CACHE_FORMAT || index.key !== key || bytes !== index.count * index.height * index.width * index.channels) return null;
  } catch {
    return null;
  }
  return index;
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order; the first failure rejects. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function bytesToSymmetric(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 127.5 - 1;
  return out;
}

/** A dataset served from the cache file: each readImages call does one positioned read per image. */
function diskDataset(name: string, cachePath: string, shape: [number, number, number, number], labels: Int32Array | null, classes: string[] | null): DiskDataset {
  const [count, height, width, channels] = shape;
  const imageBytes = height * width * channels;
  // Opened once and held: the trainer reads thousands of batches, and an open descriptor keeps reading the same
  // bytes even if a newer cache replaces this one meanwhile.
  let fd: number | null = openSync(cachePath, 'r');
  let scratch = new Uint8Array(0);
  return {
    storage: 'disk', name, shape, labels, classes, images: null, cachePath,
    readImages(indices: ArrayLike<number>, out: Float32Array): void {
      if (fd === null) throw new Error(`dataset ${name}: readImages after close()`);
      if (out.length < indices.length * imageBytes) throw new RangeError(`'out' holds ${out.length} values, ${indices.length} images need ${indices.length * imageBytes}`);
      if (scratch.length < imageBytes) scratch = new Uint8Array(imageBytes);
      for (let b = 0; b < indices.length; b++) {
        const index = indices[b]!;
        if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`image index must be an integer in [0, ${count - 1}], got ${index}`);
        const read = readSync(fd, scratch, 0, imageBytes, index * imageBytes);
        if (read !== imageBytes) throw invalid(`${cachePath}: short read of image ${index} (${read} of ${imageBytes} bytes); delete the cache to rebuild it`);
        const base = b * imageBytes;
        for (let i = 0; i < imageBytes; i++) out[base + i] = scratch[i]! / 127.5 - 1;
      }
    },
    close(): void {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
