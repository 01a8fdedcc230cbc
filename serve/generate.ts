// From images to response bodies (PNG, JSON, .npy), and the /generate body straight from request parameters. Images
// come from runtime/generator-runner.ts's generateImages, which every Node caller shares.

import { constants as zlibConstants, deflateSync } from 'node:zlib';
import type { GenerateParams, OutputFormat } from '../common/generate-params.ts';
import type { ModelManifest } from '../common/manifest.ts';
import { tileImages } from '../common/pixels.ts';
import { encodePng, storeWithoutCompression, type ZlibCompress } from '../common/png.ts';
import { generateImages, type EncodedImages, type GeneratedImages, type GeneratorRunner, type RunOptions } from '../runtime/generator-runner.ts';
import { encodeNpyFloat32 } from './npy.ts';

/**
 * A /generate response body: with a runner that renders (the pool), latents and encoding happen in its worker thread
 * and only the body comes back; any other runner yields exactly the same bytes through generateImages + encodeImages.
 */
export async function generateEncoded(
  runner: GeneratorRunner,
  model: { name: string; manifest: ModelManifest },
  params: GenerateParams,
  format: OutputFormat,
  options: RunOptions = {},
): Promise<EncodedImages> {
  if (runner.render === undefined) return encodeImages(await generateImages(runner, model, params, options), format);
  const { n, seed, truncation, truncationMode, labels } = params;
  return runner.render(model.name, { count: n, seed, truncation, truncationMode, labels, format, mix: params.mix ?? null }, options);
}

/**
 * How the server compresses PNGs: node:zlib (native, ~3× faster than the pure-JS default) with the RLE strategy. A
 * generator's images have large runs of one value (background), which RLE finds at a fraction of the cost of the
 * default search, and the files come out smaller too (measured on the bundled model: one digit 33 → 14 µs,
 * 216 → 198 bytes; a 16-digit grid 237 → 61 µs, 4,009 → 3,814 bytes; pure noise 46 → 32 µs, same size).
 *
 * Images of at most STORE_MAX_BYTES (one 28×28 digit is 812) are stored uncompressed instead: the response still fits
 * one TCP segment with its headers, so compression would save no packet, and setting up zlib's ~256 KB of state per
 * call costs the worker 40-60 µs per request under load, more than inference (the idea of nginx's gzip_min_length).
 */
const STORE_MAX_BYTES = 1024;
const compressForServing: ZlibCompress = (data) =>
  data.length <= STORE_MAX_BYTES ? storeWithoutCompression(data) : deflateSync(data, { strategy: zlibConstants.Z_RLE });

/** Identifies the bytes compressForServing produces; part of every ETag (serve/cache.ts), since other settings or another zlib give other bytes. */
export const PNG_ENCODER_ID = `zlib ${process.versions.zlib ?? 'unknown'} rle, stored up to ${STORE_MAX_BYTES}`;

/** Encodes generated images as PNG (a grid when n > 1), JSON or NumPy .npy. */
export function encodeImages(images: GeneratedImages, format: OutputFormat): EncodedImages {
  switch (format) {
    case 'png':
      return { body: encodePng(tileImages(images.data, images.shape, images.range), compressForServing), contentType: 'image/png' };
    case 'npy':
      return { body: encodeNpyFloat32(images.data, images.shape), contentType: 'application/octet-stream' };
    case 'json': {
      const json = {
        model: images.model,
        seed: images.seed,
        shape: images.shape,
        range: images.range,
        labels: images.labels,
        data: Array.from(images.data),
      };
      return { body: new TextEncoder().encode(JSON.stringify(json)), contentType: 'application/json; charset=utf-8' };
    }
  }
}
