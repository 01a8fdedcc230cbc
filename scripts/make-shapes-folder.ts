// Writes a small labelled RGB image folder (circles / squares / triangles of varied hue, position and size) so the
// image-folder dataset path can be trained, tested and demonstrated without downloading anything. Deterministic: the
// same seed gives the same pixels. Usage: npx tsx scripts/make-shapes-folder.ts --out data/shapes [--per-class 2000]
//   [--size 32] [--seed 0] [--jpeg-every 5]   (every 5th image is a JPEG, the rest PNG; 0 = PNG only)

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { SeededRandom } from '../common/random.ts';

export const SHAPE_CLASSES = ['circle', 'square', 'triangle'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

export interface ShapesFolderOptions {
  /** Folder to write <class>/<class>-NNNNN.png|jpg into (created). */
  out: string;
  /** Images per class. Default 100. */
  perClass?: number;
  /** Side of the square images in pixels. Default 32. */
  size?: number;
  /** Seed of hues, positions and sizes. Default 0. */
  seed?: number;
  /** Every n-th image of a class is written as JPEG (quality 92), the others as PNG; 0 = PNG only. Default 5. */
  jpegEvery?: number;
}

/** HSV (h in [0, 1)) to 8-bit RGB. */
function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i]!;
  return [Math.round(r! * 255), Math.round(g! * 255), Math.round(b! * 255)];
}

/** Is point (x, y) inside the shape centred at (cx, cy) with half-extent r? */
function inside(shape: ShapeClass, x: number, y: number, cx: number, cy: number, r: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  if (shape === 'circle') return dx * dx + dy * dy <= r * r;
  if (shape === 'square') return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
  // Upright triangle: apex at (cx, cy − r), base from (cx − r, cy + r) to (cx + r, cy + r).
  if (dy > r || dy < -r) return false;
  return Math.abs(dx) <= (dy + r) / 2;
}

/** Draws one shape image as packed RGB bytes, 4×4 supersampled so edges are antialiased. */
export function drawShape(shape: ShapeClass, size: number, random: SeededRandom): Uint8Array {
  const hue = random.nextOpenUnit();
  const fg = hsvToRgb(hue, 0.6 + 0.4 * random.nextOpenUnit(), 0.7 + 0.3 * random.nextOpenUnit());
  // Background: a dim colour of a hue far from the shape's, so the shape always stands out.
  const bg = hsvToRgb((hue + 0.35 + 0.3 * random.nextOpenUnit()) % 1, 0.3 * random.nextOpenUnit(), 0.1 + 0.25 * random.nextOpenUnit());
  const r = size * (0.18 + 0.17 * random.nextOpenUnit());
  const cx = r + (size - 2 * r) * random.nextOpenUnit();
  const cy = r + (size - 2 * r) * random.nextOpenUnit();
  const out = new Uint8Array(size * size * 3);
  const sub = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let hits = 0;
      for (let sy = 0; sy < sub; sy++) {
        for (let sx = 0; sx < sub; sx++) if (inside(shape, x + (sx + 0.5) / sub, y + (sy + 0.5) / sub, cx, cy, r)) hits++;
      }
      const a = hits / (sub * sub);
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = Math.round(fg[c]! * a + bg[c]! * (1 - a));
    }
  }
  return out;
}

/** Writes the folder; resolves with the number of files written. */
export async function writeShapesFolder(options: ShapesFolderOptions): Promise<number> {
  const { out, perClass = 100, size = 32, seed = 0, jpegEvery = 5 } = options;
  if (!Number.isInteger(perClass) || perClass < 1) throw new RangeError(`'perClass' must be a positive integer, got ${perClass}`);
  if (!Number.isInteger(size) || size < 8 || size > 512) throw new RangeError(`'size' must be an integer in [8, 512], got ${size}`);
  if (!Number.isInteger(jpegEvery) || jpegEvery < 0) throw new RangeError(`'jpegEvery' must be a non-negative integer, got ${jpegEvery}`);
  let written = 0;
  for (const [k, shape] of SHAPE_CLASSES.entries()) {
    const dir = join(out, shape);
    await mkdir(dir, { recursive: true });
    const random = new SeededRandom(seed, k);
    for (let i = 0; i < perClass; i++) {
      const pixels = drawShape(shape, size, random);
      const image = sharp(pixels, { raw: { width: size, height: size, channels: 3 } });
      const jpeg = jpegEvery > 0 && i % jpegEvery === jpegEvery - 1;
      const name = `${shape}-${String(i).padStart(5, '0')}.${jpeg ? 'jpg' : 'png'}`;
      await (jpeg ? image.jpeg({ quality: 92 }) : image.png()).toFile(join(dir, name));
      written++;
    }
  }
  return written;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' }, 'per-class': { type: 'string', default: '100' }, size: { type: 'string', default: '32' },
      seed: { type: 'string', default: '0' }, 'jpeg-every': { type: 'string', default: '5' },
    },
  });
  if (values.out === undefined) {
    console.error('usage: npx tsx scripts/make-shapes-folder.ts --out DIR [--per-class N] [--size N] [--seed N] [--jpeg-every N]');
    process.exit(2);
  }
  const count = await writeShapesFolder({
    out: values.out, perClass: Number(values['per-class']), size: Number(values.size), seed: Number(values.seed), jpegEvery: Number(values['jpeg-every']),
  });
  console.log(`wrote ${count} images (${SHAPE_CLASSES.join(', ')}) to ${values.out}`);
}
