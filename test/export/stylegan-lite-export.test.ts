// stylegan-lite's export: mapping and synthesis in one ONNX graph whose inputs are the family's usual z (+ label) and
// the w-space ψ `truncation` [batch, 1]. The whole generator (random weights, a non-zero tracked mean w) matches tfjs
// predict in the real onnxruntime-node within 1e-5 at ψ = 1 and ψ = 0.5 (rows with different ψ in one batch); ψ = 0
// gives the mean-w image for every z (per class when conditional); the manifest says w-space; and a real trained
// run goes through `ganforge export` (checkpoint with the custom layers reloaded, parity at ψ 1 and 0.5).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../../common/errors.ts';
import { generatorInputNames } from '../../common/manifest.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { exportGenerator, generatorConventions } from '../../export/export-generator.ts';
import { exportRun } from '../../export/export-run.ts';
import { verifyGeneratorParity } from '../../export/verify.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { MixingLatent } from '../../train/models/layers/mixing-latent.ts';
import { StyleMixing } from '../../train/models/layers/style-mixing.ts';
import { WSpaceTruncation } from '../../train/models/layers/w-space-truncation.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { styleCount } from '../../train/models/stylegan-lite.ts';
import { trainGan } from '../../train/trainer.ts';
import { mnistSubset, tempDir } from '../train/helpers.ts';
import { randomValues, randomizeWeights, testManifest, useCpuBackend } from './helpers.ts';

const LATENT = 16;
const BATCH = 6;
const SMALL = { wDim: 32, synthesisChannels: 32, mappingLayers: 2 };
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

interface Case {
  family: 'stylegan-lite' | 'cstylegan-lite';
  imageShape: [number, number, number];
}
const CASES: Case[] = [
  { family: 'stylegan-lite', imageShape: [28, 28, 1] },
  { family: 'stylegan-lite', imageShape: [32, 32, 3] },
  { family: 'cstylegan-lite', imageShape: [28, 28, 1] },
  { family: 'cstylegan-lite', imageShape: [32, 32, 3] },
];

const LABELS = [0, 3, 9, 3, 7, 0];
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function build(c: Case): { model: tf.LayersModel; bytes: Uint8Array; classes: string[] | null } {
  const family = getFamily(c.family);
  const classes = family.conditional ? DIGITS : null;
  const model = family.buildGenerator(resolveFamilyConfig(family, SMALL), { imageShape: c.imageShape, numClasses: classes?.length ?? null, latentDim: LATENT, seed: 11 });
  // Small weights keep tanh off its rails; w̄ gets random (non-zero) rows like every weight.
  randomizeWeights(model, 5, 0.1);
  const manifest = { ...testManifest({ family: c.family, latentDim: LATENT, imageShape: c.imageShape, classes }), ...generatorConventions(model) };
  return { model, bytes: exportGenerator(model, manifest), classes };
}

/** tfjs predict with ψ applied by the truncation layer. */
function tfjsImages(model: tf.LayersModel, z: Float32Array, labels: number[] | null, psi: number): Float32Array {
  const layer = model.layers.find((l): l is WSpaceTruncation => l instanceof WSpaceTruncation)!;
  layer.psi = psi;
  try {
    return tf.tidy(() => {
      const zt = tf.tensor2d(z, [z.length / LATENT, LATENT]);
      const inputs = labels === null ? zt : [zt, tf.tensor2d(labels, [labels.length, 1], 'int32')];
      return (model.predict(inputs, { batchSize: z.length / LATENT }) as tf.Tensor).dataSync() as Float32Array;
    });
  } finally {
    layer.psi = 1;
  }
}

/** The ONNX model's images; `mix` feeds mix_z and mix_from (default: no mixing, mix_from = L). */
async function onnxImages(session: ort.InferenceSession, z: Float32Array, labels: number[] | null, psi: number[], mix: { latent: Float32Array; from: number[] } | null = null): Promise<Float32Array> {
  const n = psi.length;
  const feeds: Record<string, ort.Tensor> = {
    z: new ort.Tensor('float32', z, [n, LATENT]),
    truncation: new ort.Tensor('float32', Float32Array.from(psi), [n, 1]),
    mix_z: new ort.Tensor('float32', mix?.latent ?? z, [n, LATENT]),
    mix_from: new ort.Tensor('float32', mix === null ? new Float32Array(n).fill(1e3) : Float32Array.from(mix.from), [n, 1]),
  };
  if (labels !== null) feeds.label = new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [n]);
  return (await session.run(feeds)).image!.data as Float32Array;
}

/** tfjs with the mixing layers set to `mix` (their inference counterparts of mix_z and mix_from). */
function tfjsMixedImages(model: tf.LayersModel, z: Float32Array, labels: number[] | null, psi: number, mix: { latent: Float32Array; from: number[] }): Float32Array {
  const latent = model.layers.find((l): l is MixingLatent => l instanceof MixingLatent)!;
  const styles = model.layers.find((l): l is StyleMixing => l instanceof StyleMixing)!;
  const second = tf.tensor2d(mix.latent, [mix.from.length, LATENT]);
  latent.inferenceLatent = second;
  styles.inferenceCrossover = Float32Array.from(mix.from);
  try {
    return tfjsImages(model, z, labels, psi);
  } finally {
    latent.inferenceLatent = null;
    styles.inferenceCrossover = null;
    second.dispose();
  }
}

let dirs: string[] = [];

describe('stylegan-lite export', () => {
  before(async () => { await useCpuBackend(); });
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    dirs = [];
  });

  for (const c of CASES) {
    it(`${c.family} ${c.imageShape.join('×')}: one graph (z${c.family.startsWith('c') ? ', label' : ''}, truncation) matching tfjs within 1e-5 at ψ = 1 and 0.5; ψ = 0 is the mean-w image`, async (t) => {
      const { model, bytes, classes } = build(c);
      const manifest = readManifest(bytes, 'test.onnx');
      assert.deepEqual(manifest.truncation, { kind: 'w-space', input: 'truncation' });
      assert.deepEqual(manifest.truncationModes, ['psi']);
      assert.equal(manifest.noise, 'zeroed');
      const { session } = await createNodeSession(bytes, { device: 'cpu' });
      try {
        assert.deepEqual([...session.inputNames].sort(), generatorInputNames(manifest).sort());
        const z = randomValues(BATCH * LATENT, 3);
        const labels = classes === null ? null : LABELS;
        // Rows alternate ψ 1 and 0.5 in one batch: each row depends on its own ψ only.
        const psi = Array.from({ length: BATCH }, (_, i) => (i % 2 === 0 ? 1 : 0.5));
        const onnx = await onnxImages(session, z, labels, psi);
        const per = onnx.length / BATCH;
        let worst = 0;
        for (const value of [1, 0.5]) {
          const reference = tfjsImages(model, z, labels, value);
          for (let i = 0; i < BATCH; i++) {
            if (psi[i] !== value) continue;
            worst = Math.max(worst, maxDiff(onnx.subarray(i * per, (i + 1) * per), reference.subarray(i * per, (i + 1) * per)));
          }
        }
        t.diagnostic(`max |Δ| ${worst.toExponential(2)} over ψ 1 and 0.5`);
        assert.ok(worst <= 1e-5, `tfjs vs ONNX max |Δ| ${worst}`);
        const full = await onnxImages(session, z, labels, new Array<number>(BATCH).fill(1));
        const half = await onnxImages(session, z, labels, new Array<number>(BATCH).fill(0.5));
        assert.ok(maxDiff(full, half) > 1e-3, 'ψ changes the images');
        assert.ok(maxDiff(full.subarray(0, per), full.subarray(2 * per, 3 * per)) > 1e-3, 'distinct z give distinct images at ψ = 1');

        // ψ = 0: w' = w̄ for every z, so rows with the same class (all rows, unconditional) are one image, the mean-w one.
        const zero = await onnxImages(session, z, labels, new Array<number>(BATCH).fill(0));
        const meanImage = tfjsImages(model, z, labels, 0);
        assert.ok(maxDiff(zero, meanImage) <= 1e-5, 'ψ = 0 matches tfjs at ψ = 0');
        const otherZ = await onnxImages(session, randomValues(BATCH * LATENT, 99), labels, new Array<number>(BATCH).fill(0));
        assert.ok(maxDiff(zero, otherZ) <= 1e-6, 'ψ = 0 does not depend on z');
        if (labels === null) {
          for (let i = 1; i < BATCH; i++) assert.ok(maxDiff(zero.subarray(0, per), zero.subarray(i * per, (i + 1) * per)) <= 1e-6, `row ${i} is the mean-w image`);
        } else {
          assert.ok(maxDiff(zero.subarray(per, 2 * per), zero.subarray(3 * per, 4 * per)) <= 1e-6, 'same class (3), same mean-w image');
          assert.ok(maxDiff(zero.subarray(0, per), zero.subarray(per, 2 * per)) > 1e-3, 'classes 0 and 3 have their own mean w');
        }
      } finally {
        await session.release();
        model.dispose();
      }
    });
  }

  for (const c of [CASES[0]!, CASES[2]!]) {
    it(`${c.family}: style mixing in the graph — mix_from = L is the unmixed image, 0 is mix_z's own image, 1…L−1 match tfjs and differ from both, at ψ 1 and 0.5`, async (t) => {
      const { model, bytes, classes } = build(c);
      const manifest = readManifest(bytes, 'test.onnx');
      const layers = styleCount(c.imageShape, c.family);
      assert.deepEqual(manifest.styleMixing, { latentInput: 'mix_z', crossoverInput: 'mix_from', layers });
      const { session } = await createNodeSession(bytes, { device: 'cpu' });
      try {
        const z = randomValues(BATCH * LATENT, 3);
        const z2 = randomValues(BATCH * LATENT, 4);
        const labels = classes === null ? null : LABELS;
        const per = c.imageShape.reduce((a, b) => a * b, 1);
        let worst = 0;
        for (const psi of [1, 0.5]) {
          const psis = new Array<number>(BATCH).fill(psi);
          const own = await onnxImages(session, z, labels, psis);
          const other = await onnxImages(session, z2, labels, psis);
          assert.deepEqual(await onnxImages(session, z, labels, psis, { latent: z2, from: new Array<number>(BATCH).fill(layers) }), own, 'mix_from = L mixes nothing');
          const all = await onnxImages(session, z, labels, psis, { latent: z2, from: new Array<number>(BATCH).fill(0) });
          assert.ok(maxDiff(all, other) <= 1e-6, `mix_from = 0 is mix_z's image at ψ ${psi}: ${maxDiff(all, other)}`);
          // Every crossover in one batch, row by row.
          const from = Array.from({ length: BATCH }, (_, i) => 1 + (i % (layers - 1)));
          const mixed = await onnxImages(session, z, labels, psis, { latent: z2, from });
          const reference = tfjsMixedImages(model, z, labels, psi, { latent: z2, from });
          worst = Math.max(worst, maxDiff(mixed, reference));
          for (let i = 0; i < BATCH; i++) {
            const row = (a: Float32Array) => a.subarray(i * per, (i + 1) * per);
            assert.ok(maxDiff(row(mixed), row(own)) > 1e-4 && maxDiff(row(mixed), row(other)) > 1e-4, `row ${i} (mix_from ${from[i]}) differs from both parents`);
          }
        }
        t.diagnostic(`mixed images: tfjs vs ONNX max |Δ| ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-5, `mixed tfjs vs ONNX max |Δ| ${worst}`);
      } finally {
        await session.release();
        model.dispose();
      }
    });
  }

  it('a generator from before mixing was exported (its w₂ bypasses the truncation) exports without mix_z and mix_from, and matches tfjs', async () => {
    // The topology such a checkpoint holds: StyleMixing's second input is the mapping's output, not the truncation's.
    const { model: current } = build(CASES[2]!);
    const topology = current.toJSON(undefined, false) as unknown as { config: { layers: { name: string; inbound_nodes: unknown[][][] }[] } };
    const mixing = topology.config.layers.find((l) => l.name === 'g_style_mixing')!;
    assert.deepEqual(mixing.inbound_nodes[0]![1], ['g_w_truncation', 1, 0, {}], 'today w₂ comes through the truncation');
    mixing.inbound_nodes[0]![1] = [`g_map_lrelu_${SMALL.mappingLayers - 1}`, 1, 0, {}];
    const old = await tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] });
    old.setWeights(current.getWeights());
    current.dispose();
    const conventions = generatorConventions(old);
    assert.equal('styleMixing' in conventions, false);
    const manifest = { ...testManifest({ family: 'cstylegan-lite', latentDim: LATENT, imageShape: [28, 28, 1], classes: DIGITS }), ...conventions };
    const bytes = exportGenerator(old, manifest);
    const { session } = await createNodeSession(bytes, { device: 'cpu' });
    try {
      assert.deepEqual([...session.inputNames].sort(), ['label', 'truncation', 'z']);
    } finally {
      await session.release();
    }
    const report = await verifyGeneratorParity(old, bytes, readManifest(bytes, 'old.onnx'), { samples: 32, tolerance: 1e-5 });
    assert.ok(report.maxAbsDiff <= 1e-5, `parity ${report.maxAbsDiff}`);
    old.dispose();
  });

  it('refuses a manifest whose truncation kind disagrees with the generator, naming manifest.truncation', () => {
    const { model } = build(CASES[0]!);
    const latentManifest = testManifest({ family: 'stylegan-lite', latentDim: LATENT, imageShape: [28, 28, 1] });
    assert.throws(() => exportGenerator(model, latentManifest), (e: unknown) => e instanceof InvalidParameterError && /truncates in w space: 'manifest.truncation' must be \{kind: 'w-space', input: 'truncation'\}/.test(e.message));
    model.dispose();
    const dcgan = getFamily('dcgan').buildGenerator(resolveFamilyConfig(getFamily('dcgan'), { generatorChannels: 8 }), { imageShape: [28, 28, 1], numClasses: null, latentDim: LATENT, seed: 1 });
    const wSpace = { ...latentManifest, truncation: { kind: 'w-space' as const, input: 'truncation' }, truncationModes: ['psi' as const] };
    assert.throws(() => exportGenerator(dcgan, wSpace), (e: unknown) => e instanceof InvalidParameterError && /no w-space truncation layer/.test(e.message));
    dcgan.dispose();
  });

  it('a trained cstylegan-lite run goes through ganforge export: checkpoint reloaded, manifest w-space, parity ≤ 1e-5 at ψ 1 and 0.5', async () => {
    const mnist = await mnistSubset(256);
    const outDir = await tempDir('cstylegan-export');
    dirs.push(outDir);
    await trainGan({
      family: 'cstylegan-lite', familyConfig: { ...SMALL, discriminatorChannels: 8 }, dataset: mnist, steps: 3, batchSize: 16, latentDim: LATENT, seed: 4, outDir, progress: false,
    });
    const report = await exportRun({ runDir: outDir, outPath: join(outDir, 'style.onnx'), samples: 32, tolerance: 1e-5, ganforgeVersion: 'test' });
    assert.ok(report.parity.maxAbsDiff <= 1e-5, `parity ${report.parity.maxAbsDiff}`);
    assert.deepEqual(report.manifest.truncation, { kind: 'w-space', input: 'truncation' });
    assert.deepEqual(report.manifest.styleMixing, { latentInput: 'mix_z', crossoverInput: 'mix_from', layers: 4 });
    assert.equal(report.manifest.family, 'cstylegan-lite');
    assert.deepEqual(readManifest(new Uint8Array(await readFile(report.path)), 'style.onnx'), report.manifest);

    // `ganforge export` in a fresh process, which never imports the family registry: the checkpoint loader itself
    // must register the custom generator layers (train/models/layers/generator-layers.ts).
    const cliOut = join(outDir, 'cli.onnx');
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'export', outDir, '--out', cliOut, '--backend', 'cpu'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.deepEqual(readManifest(new Uint8Array(await readFile(cliOut)), 'cli.onnx').truncation, { kind: 'w-space', input: 'truncation' });
  });
});
