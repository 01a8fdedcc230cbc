// The picture of the truncation trade-off: one grid row per truncation setting, the same latents in every row (latents
// depend only on seed and index), and for a conditional model the classes 0, 1, … along the row.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { readManifest } from '../common/onnx-metadata.ts';
import { tileImages } from '../common/pixels.ts';
import { encodePng } from '../common/png.ts';
import type { TruncationMode } from '../common/truncation.ts';
import { writeFileAtomic } from '../train/atomic-write.ts';
import { generateImages } from '../runtime/generator-runner.ts';
import { openSessionRunner } from '../runtime/session-runner.ts';

export interface TruncationGridOptions {
  modelPath: string;
  /** One row per value. */
  truncations: number[];
  truncationMode?: TruncationMode;
  /** Images per row. Default: the number of classes, else 10. */
  columns?: number;
  /** Seed of every row. Default 1. */
  seed?: number;
  /** Where the PNG goes (written atomically). */
  out: string;
}

export async function writeTruncationGrid(options: TruncationGridOptions): Promise<{ width: number; height: number }> {
  const { modelPath, truncations, truncationMode = 'psi', seed = 1, out } = options;
  const bytes = new Uint8Array(await readFile(modelPath));
  const manifest = readManifest(bytes, modelPath);
  const columns = options.columns ?? manifest.classes?.length ?? 10;
  const name = basename(modelPath, '.onnx');
  const pool = await openSessionRunner({ models: [{ name, bytes, manifest }], device: 'cpu' });
  try {
    const [height, width, channels] = manifest.imageShape;
    const perImage = height * width * channels;
    const all = new Float32Array(truncations.length * columns * perImage);
    for (const [row, truncation] of truncations.entries()) {
      const labels = manifest.classes === null ? null : Array.from({ length: columns }, (_, k) => k % manifest.classes!.length);
      const images = await generateImages(pool, { name, manifest }, { n: columns, seed, labels, truncation, truncationMode });
      all.set(images.data, row * columns * perImage);
    }
    const raster = tileImages(all, [truncations.length * columns, height, width, channels], manifest.valueRange, { columns });
    await writeFileAtomic(out, encodePng(raster));
    return { width: raster.width, height: raster.height };
  } finally {
    await pool.close();
  }
}
