// The picture of style mixing (StyleGAN's Figure 3, for a ganforge style export): the top row holds the sources of
// the fine styles (images 0…C−1 of seed B), the left column the sources of the coarse ones (images 0…R−1 of seed A),
// and cell (r, c) is image r of A with the synthesis layers from `mixFrom` on styled by image c of B. One class for
// the whole grid when the model is conditional: the label conditions both styles.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidParameterError } from '../common/errors.ts';
import { sampleLatents } from '../common/latents.ts';
import { readManifest } from '../common/onnx-metadata.ts';
import { tileImages } from '../common/pixels.ts';
import { encodePng } from '../common/png.ts';
import { defaultMixFrom } from '../common/style-mixing.ts';
import { openSessionRunner } from '../runtime/session-runner.ts';
import { writeFileAtomic } from '../train/atomic-write.ts';

export interface StyleMixingGridOptions {
  modelPath: string;
  /** Where the PNG goes (written atomically). */
  out: string;
  /** Coarse-style sources (rows) and fine-style sources (columns). Default 5 and 6. */
  rows?: number;
  columns?: number;
  /** Seeds of the row and column sources. Default 1 and 2. */
  rowSeed?: number;
  columnSeed?: number;
  /** First synthesis layer styled by the column source. Default: the manifest's ⌊L/2⌋. */
  mixFrom?: number;
  /** ψ for every image. Default 1. */
  truncation?: number;
  /** Class of every image for a conditional model. Default 0. */
  label?: number;
}

export async function writeStyleMixingGrid(options: StyleMixingGridOptions): Promise<{ width: number; height: number; mixFrom: number; layers: number }> {
  const { modelPath, out, rows = 5, columns = 6, rowSeed = 1, columnSeed = 2, truncation = 1, label = 0 } = options;
  const bytes = new Uint8Array(await readFile(modelPath));
  const manifest = readManifest(bytes, modelPath);
  const mixing = manifest.styleMixing;
  if (mixing === undefined) {
    throw new InvalidParameterError('mixing-grid', `${modelPath} (family '${manifest.family}') has no style-mixing inputs; export a stylegan-lite or cstylegan-lite run with this ganforge version`);
  }
  const mixFrom = options.mixFrom ?? defaultMixFrom(mixing.layers);
  if (!Number.isInteger(mixFrom) || mixFrom < 0 || mixFrom > mixing.layers) throw new InvalidParameterError('mix-from', `'mix-from' must be an integer in [0, ${mixing.layers}], got ${mixFrom}`);
  if (manifest.classes !== null && !(Number.isInteger(label) && label >= 0 && label < manifest.classes.length)) {
    throw new InvalidParameterError('class', `'class' must be an integer in [0, ${manifest.classes.length - 1}], got ${label}`);
  }
  const name = basename(modelPath, '.onnx');
  const runner = await openSessionRunner({ models: [{ name, bytes, manifest }], device: 'cpu' });
  try {
    const d = manifest.latentDim;
    const coarse = sampleLatents({ latentDim: d, count: rows, seed: rowSeed });
    const fine = sampleLatents({ latentDim: d, count: columns, seed: columnSeed });
    // Every cell of the (rows + 1) × (columns + 1) grid as one batch: the corner unmixed (blanked below), the top row
    // the column sources, the left column the row sources, the rest mixed.
    const count = (rows + 1) * (columns + 1);
    const latent = new Float32Array(count * d);
    const second = new Float32Array(count * d);
    const from = new Float32Array(count).fill(mixing.layers);
    for (let r = 0; r <= rows; r++) {
      for (let c = 0; c <= columns; c++) {
        const cell = r * (columns + 1) + c;
        const own = r === 0 ? (c === 0 ? coarse.subarray(0, d) : fine.subarray((c - 1) * d, c * d)) : coarse.subarray((r - 1) * d, r * d);
        latent.set(own, cell * d);
        second.set(r > 0 && c > 0 ? fine.subarray((c - 1) * d, c * d) : own, cell * d);
        if (r > 0 && c > 0) from[cell] = mixFrom;
      }
    }
    const labels = manifest.classes === null ? null : new BigInt64Array(count).fill(BigInt(label));
    const output = await runner.run(name, { latent, labels, count, psi: new Float32Array(count).fill(truncation), mix: { latent: second, from } });
    const [height, width, channels] = manifest.imageShape;
    output.data.fill(manifest.valueRange[0], 0, height * width * channels); // the corner: no image
    const raster = tileImages(output.data, [count, height, width, channels], manifest.valueRange, { columns: columns + 1 });
    await writeFileAtomic(out, encodePng(raster));
    return { width: raster.width, height: raster.height, mixFrom, layers: mixing.layers };
  } finally {
    await runner.close();
  }
}
