// `ganforge eval --mixing-grid` (eval/style-mixing-grid.ts) on a style export: the top row is the column sources'
// own images, the left column the row sources', and the diagonal cells (row source r, column source r) equal what
// /generate?seed=A&n=R&mixSeed=B&mixFrom=K serves for image r (the session runner stands for the server: the style-
// mixing serve test shows the two equal). A model without mixing inputs is refused by name.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decode } from 'fast-png';
import { InvalidParameterError } from '../../common/errors.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { toByte } from '../../common/pixels.ts';
import { writeStyleMixingGrid } from '../../eval/style-mixing-grid.ts';
import { generateImages } from '../../runtime/generator-runner.ts';
import { openSessionRunner } from '../../runtime/session-runner.ts';
import { exportStyleGenerator } from '../export/helpers.ts';
import { buildFixtureGenerator } from '../fixtures/onnx-fixtures.ts';

const SHAPE: [number, number, number] = [28, 28, 1];
const PAD = 2;
let dir: string;
let modelPath: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ganforge-mixing-grid-'));
  modelPath = join(dir, 'style.onnx');
  writeFileSync(modelPath, await exportStyleGenerator({ imageShape: SHAPE, latentDim: 8 }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The 8-bit pixels of tile (row, column) of a grid PNG. */
function tile(png: ReturnType<typeof decode>, row: number, column: number): number[] {
  const [h, w] = SHAPE;
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out.push(png.data[(PAD + row * (h + PAD) + y) * png.width + PAD + column * (w + PAD) + x]!);
  }
  return out;
}

test('the mixing grid: sources along the top and the left, mixed cells equal the served mix', async () => {
  const out = join(dir, 'grid.png');
  const rows = 3;
  const columns = 4;
  const size = await writeStyleMixingGrid({ modelPath, out, rows, columns, rowSeed: 5, columnSeed: 6, mixFrom: 1, label: 3 });
  assert.deepEqual(size, { width: (columns + 1) * 28 + (columns + 2) * PAD, height: (rows + 1) * 28 + (rows + 2) * PAD, mixFrom: 1, layers: 4 });
  const png = decode(readFileSync(out));
  assert.ok(tile(png, 0, 0).every((v) => v === 0), 'the corner is empty');

  const bytes = new Uint8Array(readFileSync(modelPath));
  const manifest = readManifest(bytes, modelPath);
  const runner = await openSessionRunner({ models: [{ name: 'style', bytes, manifest }], intraOpNumThreads: 1 });
  try {
    const model = { name: 'style', manifest };
    const labels = (n: number) => new Array<number>(n).fill(3);
    const asBytes = (data: Float32Array, k: number) => Array.from(data.subarray(k * 784, (k + 1) * 784), (v) => toByte(v, -1, 1));
    const rowSources = await generateImages(runner, model, { n: rows, seed: 5, labels: labels(rows), truncation: 1, truncationMode: 'psi' });
    const columnSources = await generateImages(runner, model, { n: columns, seed: 6, labels: labels(columns), truncation: 1, truncationMode: 'psi' });
    const served = await generateImages(runner, model, { n: rows, seed: 5, labels: labels(rows), truncation: 1, truncationMode: 'psi', mix: { seed: 6, from: 1 } });
    for (let r = 0; r < rows; r++) assert.deepEqual(tile(png, r + 1, 0), asBytes(rowSources.data, r), `left column, row ${r}`);
    for (let c = 0; c < columns; c++) assert.deepEqual(tile(png, 0, c + 1), asBytes(columnSources.data, c), `top row, column ${c}`);
    for (let r = 0; r < rows; r++) {
      assert.deepEqual(tile(png, r + 1, r + 1), asBytes(served.data, r), `cell (${r}, ${r}) = the served mix of image ${r}`);
      assert.notDeepEqual(tile(png, r + 1, r + 1), tile(png, r + 1, 0), `cell (${r}, ${r}) is not its row source`);
    }
  } finally {
    await runner.close();
  }
});

test('a model without mixing inputs is refused, naming the flag; the CLI writes the grid', () => {
  const plain = join(dir, 'plain.onnx');
  writeFileSync(plain, buildFixtureGenerator({ latentDim: 8, imageShape: [12, 12, 1] }));
  return (async () => {
    await assert.rejects(writeStyleMixingGrid({ modelPath: plain, out: join(dir, 'x.png') }), (e: unknown) => e instanceof InvalidParameterError && /has no style-mixing inputs/.test(e.message));
    const cliOut = join(dir, 'cli.png');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'eval', modelPath, '--mixing-grid', cliOut, '--mix-from', '2', '--class', '1'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /layers 2…3 of 4 styled by the top row/);
    assert.equal(decode(readFileSync(cliOut)).width, 7 * 28 + 8 * PAD, 'six column sources and the row sources');
  })();
});
