// Whole-generator export parity for the convolutional families: the registered dcgan/cdcgan generators, with random
// weights and random BatchNorm moving statistics (a fresh model's 0/1 would hide a wrong fold), exported by the
// project's exporter and run in the real onnxruntime-node, against tfjs predict. And a trained cdcgan run exports with
// the manifest a cgan run gets (inputs z + label, classes, image output), which is what lets the server and the page
// serve it with class= and truncation= unchanged.

import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readManifest } from '../../common/onnx-metadata.ts';
import { exportGenerator } from '../../export/export-generator.ts';
import { exportRun } from '../../export/export-run.ts';
import type { BuildContext } from '../../train/models/family.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { trainGan } from '../../train/trainer.ts';
import { mnistSubset, tempDir } from '../train/helpers.ts';
import { compareWithTfjs, randomValues, randomizeWeights, testManifest, useCpuBackend, type TestInput } from './helpers.ts';

const LATENT = 16;
const BATCH = 5;

interface Case {
  family: 'dcgan' | 'cdcgan';
  imageShape: [number, number, number];
  config?: Record<string, unknown>;
}

const CASES: Case[] = [
  { family: 'dcgan', imageShape: [28, 28, 1] },
  { family: 'dcgan', imageShape: [32, 32, 3] },
  { family: 'cdcgan', imageShape: [28, 28, 1] },
  // Narrow, so the third size costs little; also the UpSampling2D + Conv2D path (even kernel, uneven 'same' pad).
  { family: 'dcgan', imageShape: [32, 32, 3], config: { upsampling: 'resize', generatorChannels: 32 } },
];

let dirs: string[] = [];

describe('conv families export', () => {
  before(async () => { await useCpuBackend(); });
  after(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); dirs = []; });

  for (const c of CASES) {
    const label = `${c.family} ${c.imageShape.join('×')}${c.config?.upsampling === 'resize' ? " ('resize')" : ''}`;
    it(`${label}: the whole generator in onnxruntime-node matches tfjs predict within 1e-4`, async () => {
      const family = getFamily(c.family);
      const classes = family.conditional ? ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] : null;
      const context: BuildContext = { imageShape: c.imageShape, numClasses: classes?.length ?? null, latentDim: LATENT, seed: 11 };
      const model = family.buildGenerator(resolveFamilyConfig(family, c.config), context);
      // Small weights keep tanh out of saturation, where ±1 everywhere would hide any error.
      randomizeWeights(model, 5, 0.05);
      const bytes = exportGenerator(model, testManifest({ family: c.family, latentDim: LATENT, imageShape: c.imageShape, classes }));
      const inputs: TestInput[] = [{ name: 'z', data: randomValues(BATCH * LATENT, 3), shape: [BATCH, LATENT] }];
      if (classes !== null) inputs.push({ name: 'label', data: Float32Array.from([0, 3, 9, 3, 7]), shape: [BATCH, 1], kind: 'label' });
      const { maxAbsDiff, tfjs, onnxDims } = await compareWithTfjs(model, bytes, inputs);
      assert.deepEqual([...onnxDims], [BATCH, ...c.imageShape]);
      assert.ok(maxAbsDiff <= 1e-4, `tfjs vs ONNX max |Δ| ${maxAbsDiff}`);
      // Outputs spread over the tanh range but off its rails (RMS 0.08-0.17 here): near 0 or at ±1 the check would prove little.
      const unsaturated = tfjs.filter((v) => Math.abs(v) < 0.9).length / tfjs.length;
      const rms = Math.sqrt(tfjs.reduce((sum, v) => sum + v * v, 0) / tfjs.length);
      assert.ok(unsaturated > 0.5 && rms > 0.03, `outputs too saturated (${(100 * unsaturated).toFixed(0)}% off the rails) or too faint (RMS ${rms})`);
      // Distinct rows (z, and the label where there is one) give distinct images: a constant graph would also match.
      const pixels = tfjs.length / BATCH;
      assert.ok(tfjs.subarray(0, pixels).some((v, i) => Math.abs(v - tfjs[pixels + i]!) > 1e-3), 'images 0 and 1 are the same');
      model.dispose();
    });
  }

  it('a trained cdcgan run exports with the manifest and inputs of a cgan run (z + label, classes, image)', async () => {
    const mnist = await mnistSubset(64);
    const runs: Record<string, Awaited<ReturnType<typeof exportRun>>> = {};
    const small: Record<string, Record<string, unknown>> = {
      cdcgan: { generatorChannels: 8, discriminatorChannels: 4 },
      cgan: { generatorUnits: [16], discriminatorUnits: [16] },
    };
    for (const name of ['cdcgan', 'cgan']) {
      const outDir = await tempDir(`${name}-export`);
      dirs.push(outDir);
      await trainGan({ family: name, familyConfig: small[name], dataset: mnist, steps: 2, batchSize: 16, latentDim: LATENT, seed: 4, outDir, progress: false });
      runs[name] = await exportRun({ runDir: outDir, outPath: join(outDir, `${name}.onnx`), samples: 20, ganforgeVersion: 'test' });
    }
    const cdcgan = runs.cdcgan!;
    const cgan = runs.cgan!;
    assert.equal(cdcgan.manifest.family, 'cdcgan');
    assert.deepEqual(cdcgan.manifest.inputs, { latent: 'z', label: 'label' });
    assert.deepEqual(cdcgan.manifest.classes, mnist.classes);
    assert.ok(cdcgan.parity.maxAbsDiff <= 1e-4, `tfjs vs ONNX max |Δ| ${cdcgan.parity.maxAbsDiff}`);
    // Everything a consumer reads besides the family and how it was trained is the same as cgan's.
    const serving = (m: typeof cdcgan.manifest) => ({ ...m, family: undefined, training: undefined });
    assert.deepEqual(serving(cdcgan.manifest), serving(cgan.manifest));
    assert.deepEqual(readManifest(new Uint8Array(await readFile(cdcgan.path)), 'cdcgan.onnx'), cdcgan.manifest);
  });
});
