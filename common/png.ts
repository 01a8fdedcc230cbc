// PNG encoding for server and browser alike (fast-png is pure JS): identical rasters give identical bytes.
import { encode } from 'fast-png';
import type { RasterImage } from './pixels.ts';

export function encodePng(image: RasterImage): Uint8Array {
  if (![1, 3, 4].includes(image.channels)) throw new RangeError(`encodePng: channels must be 1, 3 or 4, got ${image.channels}`);
  return encode({ width: image.width, height: image.height, data: image.data, channels: image.channels, depth: 8 });
}
