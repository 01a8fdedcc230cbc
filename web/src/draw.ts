// Drawing generated images in the page with the same pixel code as the server (common/pixels.ts) and the same PNG
// encoder (common/png.ts): a grid downloaded from the page is byte-identical to /generate?format=png for equal values.

import { tileImages, toRgba, type GridOptions, type RasterImage } from '../../common/pixels.ts';
import { encodePng } from '../../common/png.ts';

/** Anything shaped like a result of generate() or /generate?format=json. */
export interface ImageBatch {
  shape: readonly [number, number, number, number];
  range: readonly [number, number];
  data: ArrayLike<number>;
}

/** The batch as one 8-bit grid (a single image when n = 1). */
export function toRaster(batch: ImageBatch, options: GridOptions = {}): RasterImage {
  return tileImages(batch.data, batch.shape, batch.range, options);
}

export function toImageData(batch: ImageBatch, options: GridOptions = {}): ImageData {
  const raster = toRaster(batch, options);
  return new ImageData(toRgba(raster) as Uint8ClampedArray<ArrayBuffer>, raster.width, raster.height);
}

/** Resizes the canvas to the grid and draws it; CSS decides the displayed size. */
export function drawToCanvas(canvas: HTMLCanvasElement, batch: ImageBatch, options: GridOptions = {}): void {
  const image = toImageData(batch, options);
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  if (context === null) throw new Error('drawToCanvas: the canvas has no 2d context');
  context.putImageData(image, 0, 0);
}

/** PNG bytes of the grid: the same bytes /generate?format=png sends for the same values. */
export function toPngBytes(batch: ImageBatch, options: GridOptions = {}): Uint8Array {
  return encodePng(toRaster(batch, options));
}

export function toPngBlob(batch: ImageBatch, options: GridOptions = {}): Blob {
  const bytes = toPngBytes(batch, options);
  return new Blob([bytes.slice().buffer], { type: 'image/png' });
}
