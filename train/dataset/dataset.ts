// The one interface the trainer reads a dataset through: shape, labels, class names and readImages(indices, out),
// which copies a batch of images as float32 in [-1, 1] (the tanh range of every generator), NHWC. Two kinds implement
// it: datasets held in memory as one Float32Array (MNIST, IDX files, small image folders) and image folders too big
// for that, read from their uint8 disk cache batch by batch (image-folder.ts).

/** Fields every dataset has. */
export interface DatasetBase {
  /** Registry name, or the resolved path of an IDX images file or an image folder. */
  name: string;
  /** [count, height, width, channels]. */
  shape: [number, number, number, number];
  /** One label per image, or null when the dataset has no labels. */
  labels: Int32Array | null;
  /** Class names (index = label), or null without labels. */
  classes: string[] | null;
  /**
   * Copies the images at `indices` into `out` (image b at b × H×W×C), values in [-1, 1], NHWC row-major.
   * Throws a RangeError for an index outside [0, count) or an `out` shorter than indices.length × H×W×C.
   */
  readImages(indices: ArrayLike<number>, out: Float32Array): void;
}

/** A dataset whose pixels are all in memory. */
export interface Dataset extends DatasetBase {
  storage: 'memory';
  /** Pixel values in [-1, 1], NHWC row-major. */
  images: Float32Array;
}

/** An image folder read from its on-disk uint8 cache per batch (too large to hold as float32). */
export interface DiskDataset extends DatasetBase {
  storage: 'disk';
  images: null;
  /** The cache file the pixels are read from. */
  cachePath: string;
  /** Closes the cache file; readImages fails afterwards. Optional: the descriptor is released at process exit. */
  close(): void;
}

/** What loadDataset returns for a name or path it cannot type statically: either kind. */
export type AnyDataset = Dataset | DiskDataset;

/** Builds an in-memory dataset. Its readImages reads `this.images`, so a copy with replaced pixels ({...ds, images}) reads its own. */
export function inMemoryDataset(fields: Omit<Dataset, 'storage' | 'readImages'>): Dataset {
  const [count, height, width, channels] = fields.shape;
  const imageSize = height * width * channels;
  if (fields.images.length !== count * imageSize) {
    throw new RangeError(`dataset ${fields.name}: ${fields.images.length} pixel values for shape [${fields.shape.join(', ')}] (needs ${count * imageSize})`);
  }
  return {
    storage: 'memory',
    ...fields,
    readImages(this: Dataset, indices: ArrayLike<number>, out: Float32Array): void {
      const n = this.shape[0];
      if (out.length < indices.length * imageSize) throw new RangeError(`'out' holds ${out.length} values, ${indices.length} images need ${indices.length * imageSize}`);
      for (let b = 0; b < indices.length; b++) {
        const index = indices[b]!;
        if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`image index must be an integer in [0, ${n - 1}], got ${index}`);
        out.set(this.images.subarray(index * imageSize, (index + 1) * imageSize), b * imageSize);
      }
    },
  };
}
