// Turning generator output into pixels: value range → 8-bit, and many images → one grid. Used by the trainer's sample
// grids, the server's PNGs and the browser's canvas, so all three show identical pixels for identical outputs.

/** An 8-bit image, row-major, `channels` interleaved values per pixel. */
export interface RasterImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Maps one output value in [low, high] to a byte, clamping outside values (tileImages inlines the same arithmetic). */
export function toByte(value: number, low: number, high: number): number {
  const scaled = Math.round(((value - low) / (high - low)) * 255);
  return scaled < 0 ? 0 : scaled > 255 ? 255 : scaled;
}

export interface GridOptions {
  /** Images per row. Default: ceil(sqrt(count)). */
  columns?: number;
  /** Pixels of background between and around images. Default 2 (0 for a single image). */
  padding?: number;
}

/**
 * Tiles `count` NHWC images (float values in `range`) into one 8-bit image. A single image without options is
 * returned unpadded, so /generate?n=1 is the plain sample.
 */
export function tileImages(
  data: ArrayLike<number>,
  shape: readonly [number, number, number, number],
  range: readonly [number, number],
  options: GridOptions = {},
): RasterImage {
  const [count, height, width, channels] = shape;
  if (data.length !== count * height * width * channels) {
    throw new RangeError(`tileImages: data has ${data.length} values, shape [${shape.join(', ')}] needs ${count * height * width * channels}`);
  }
  const columns = Math.max(1, Math.min(count, options.columns ?? Math.ceil(Math.sqrt(count))));
  const rows = Math.max(1, Math.ceil(count / columns));
  const padding = options.padding ?? (count === 1 ? 0 : 2);
  const gridWidth = columns * width + (columns + 1) * padding;
  const gridHeight = rows * height + (rows + 1) * padding;
  const out = new Uint8Array(gridWidth * gridHeight * channels);
  const [low, high] = range;
  // toByte's arithmetic inlined (same operations, so the same bytes): this loop runs for every pixel the server
  // sends, and the call plus the generic ArrayLike access cost more than the arithmetic.
  const span = high - low;
  const rowValues = width * channels;
  for (let k = 0; k < count; k++) {
    const x0 = padding + (k % columns) * (width + padding);
    const y0 = padding + Math.floor(k / columns) * (height + padding);
    for (let y = 0; y < height; y++) {
      const src = (k * height + y) * rowValues;
      const dst = ((y0 + y) * gridWidth + x0) * channels;
      for (let i = 0; i < rowValues; i++) {
        const scaled = Math.round(((data[src + i]! - low) / span) * 255);
        out[dst + i] = scaled < 0 ? 0 : scaled > 255 ? 255 : scaled;
      }
    }
  }
  return { width: gridWidth, height: gridHeight, channels, data: out };
}

/** Expands a 1- or 3-channel raster to RGBA (what canvas ImageData wants). */
export function toRgba(image: RasterImage): Uint8ClampedArray {
  const { width, height, channels, data } = image;
  const out = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    if (channels === 1) {
      out[p * 4] = out[p * 4 + 1] = out[p * 4 + 2] = data[p]!;
    } else {
      out[p * 4] = data[p * channels]!;
      out[p * 4 + 1] = data[p * channels + 1]!;
      out[p * 4 + 2] = data[p * channels + 2]!;
    }
    out[p * 4 + 3] = channels === 4 ? data[p * 4 + 3]! : 255;
  }
  return out;
}
