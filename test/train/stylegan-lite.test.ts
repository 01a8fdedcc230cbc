// stylegan-lite and cstylegan-lite: shapes at 28×28×1, 32×32×3 (and 64×64×3), only exportable layers; what each custom
// layer does in training and at inference (style mixing's crossover, noise, the per-class mean-w EMA); checkpoints
// reload the custom layers; and real GanStepper steps on MNIST (wasm and cpu) in which the tracked mean w moves in
// the generator's step only, the discriminator's step leaves the generator bit-identical, and no tensor leaks.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../train/backend.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { GanStepper } from '../../train/gan-stepper.ts';
import { GENERATOR_LAYERS, LABEL_INPUT, LATENT_INPUT, type BuildContext } from '../../train/models/family.ts';
import { NoiseInjection } from '../../train/models/layers/noise-injection.ts';
import { StyleMixing } from '../../train/models/layers/style-mixing.ts';
import { WSpaceTruncation } from '../../train/models/layers/w-space-truncation.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { buildGanPair } from '../../train/trainer.ts';
import { mnistSubset, sameBits, snapshotWeights } from './helpers.ts';

const SMALL = { wDim: 16, synthesisChannels: 16, mappingLayers: 2, discriminatorChannels: 8 };
const FAMILIES = ['stylegan-lite', 'cstylegan-lite'] as const;
type Shape = [number, number, number];

function context(family: string, imageShape: Shape, latentDim = 8): BuildContext {
  return { imageShape, numClasses: getFamily(family).conditional ? 10 : null, latentDim, seed: 7 };
}

const truncationLayer = (model: tf.LayersModel) => model.layers.find((l): l is WSpaceTruncation => l instanceof WSpaceTruncation)!;

describe('stylegan-lite', () => {
  after(async () => { await tf.setBackend('cpu'); });

  for (const name of FAMILIES) {
    for (const [imageShape, base, styles] of [[[28, 28, 1], 7, 4], [[32, 32, 3], 4, 5], [[64, 64, 3], 4, 6]] as [Shape, number, number][]) {
      it(`${name} ${imageShape.join('×')}: constant ${base}×${base}, ${styles} styles, image and logit shapes, exportable layers`, async () => {
        await tf.setBackend('cpu');
        const family = getFamily(name);
        const config = resolveFamilyConfig(family, SMALL);
        const ctx = context(name, imageShape);
        const generator = family.buildGenerator(config, ctx);
        const discriminator = family.buildDiscriminator(config, ctx);
        try {
          assert.deepEqual(generator.inputNames, family.conditional ? [LATENT_INPUT, LABEL_INPUT] : [LATENT_INPUT]);
          assert.deepEqual(generator.getLayer('g_constant').outputShape, [null, base, base, 16]);
          assert.deepEqual(generator.getLayer('g_style_mixing').outputShape, [null, styles, 16]);
          assert.equal(generator.layers.filter((l) => l.getClassName() === 'AdaptiveInstanceNorm').length, styles);
          assert.equal(generator.layers.filter((l) => l.getClassName() === 'NoiseInjection').length, styles);
          assert.deepEqual(truncationLayer(generator).getWeights()[0]!.shape, [family.conditional ? 10 : 1, 16], 'one mean w per class (or one)');
          for (const layer of generator.layers) assert.ok(GENERATOR_LAYERS.includes(layer.getClassName()), `${layer.name} is a ${layer.getClassName()}, which the exporter cannot map`);
          tf.tidy(() => {
            const z = tf.randomNormal([3, 8], 0, 1, 'float32', 1);
            const labels = tf.tensor2d([0, 4, 9], [3, 1], 'int32');
            const images = generator.predict(family.conditional ? [z, labels] : z) as tf.Tensor;
            assert.deepEqual(images.shape, [3, ...imageShape]);
            assert.ok(images.min().dataSync()[0]! >= -1 && images.max().dataSync()[0]! <= 1);
            const trained = generator.apply(family.conditional ? [z, labels] : z, { training: true }) as tf.Tensor;
            assert.deepEqual(trained.shape, [3, ...imageShape]);
            const logits = discriminator.predict(family.conditional ? [images, labels] : images) as tf.Tensor;
            assert.deepEqual(logits.shape, [3, 1]);
          });
        } finally {
          generator.dispose();
          discriminator.dispose();
        }
      });
    }
  }

  it('config values are checked by name; the conditional family needs labels', async () => {
    await tf.setBackend('cpu');
    const family = getFamily('stylegan-lite');
    const ctx = context('stylegan-lite', [28, 28, 1]);
    assert.throws(() => family.buildGenerator(resolveFamilyConfig(family, { styleMixingProbability: 1.5 }), ctx), /'styleMixingProbability' must be in \[0, 1\], got 1.5/);
    assert.throws(() => family.buildGenerator(resolveFamilyConfig(family, { wAverageDecay: 1 }), ctx), /'wAverageDecay' must be in \[0, 1\), got 1/);
    assert.throws(() => family.buildGenerator(resolveFamilyConfig(family, { mappingLayers: 0 }), ctx), /'mappingLayers' must be an integer ≥ 1, got 0/);
    assert.throws(() => family.buildGenerator(resolveFamilyConfig(family), { ...ctx, imageShape: [30, 30, 1] }), /cannot build 30×30×1 images/);
    const conditional = getFamily('cstylegan-lite');
    assert.throws(() => conditional.buildGenerator(resolveFamilyConfig(conditional), { ...ctx, numClasses: null }), /'cstylegan-lite' is conditional and needs a labelled dataset/);
  });

  it('style mixing: at inference every layer gets w; in training, with p = 1, layers from a crossover c ∈ [1, L − 1] get w₂', async () => {
    await tf.setBackend('cpu');
    const styles = 5;
    const batch = 64;
    const w = tf.randomNormal([batch, 3], 0, 1, 'float32', 1);
    const w2 = tf.randomNormal([batch, 3], 0, 1, 'float32', 2);
    const always = new StyleMixing({ styles, probability: 1, seed: 3 });
    const inference = (always.apply([w, w2]) as tf.Tensor).arraySync() as number[][][];
    const mixed = (always.apply([w, w2], { training: true }) as tf.Tensor).arraySync() as number[][][];
    const never = (new StyleMixing({ styles, probability: 0, seed: 3 }).apply([w, w2], { training: true }) as tf.Tensor).arraySync() as number[][][];
    const [wRows, w2Rows] = [w.arraySync() as number[][], w2.arraySync() as number[][]];
    const crossovers = new Set<number>();
    for (let b = 0; b < batch; b++) {
      for (let l = 0; l < styles; l++) {
        assert.deepEqual(inference[b]![l], wRows[b], 'inference: w for every layer');
        assert.deepEqual(never[b]![l], wRows[b], 'p = 0: w for every layer');
      }
      const c = mixed[b]!.findIndex((row) => row[0] === w2Rows[b]![0]);
      assert.ok(c >= 1 && c <= styles - 1, `sample ${b}: crossover ${c}`);
      for (let l = 0; l < styles; l++) assert.deepEqual(mixed[b]![l], l < c ? wRows[b] : w2Rows[b]);
      crossovers.add(c);
    }
    assert.equal(crossovers.size, styles - 1, 'every crossover layer is drawn');
    tf.dispose([w, w2]);
  });

  it('noise: zero at inference, per-pixel noise scaled per channel in training', async () => {
    await tf.setBackend('cpu');
    const layer = new NoiseInjection({ seed: 1 });
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 5);
    layer.apply(x);
    layer.setWeights([tf.tensor1d([0, 1, 2])]);
    assert.ok(sameBits([(layer.apply(x) as tf.Tensor).dataSync() as Float32Array], [x.dataSync() as Float32Array]), 'inference passes x through');
    const delta = tf.sub(layer.apply(x, { training: true }) as tf.Tensor, x);
    const [channel0, channel1, channel2] = tf.split(delta, 3, 3).map((t) => t.dataSync());
    assert.ok(channel0!.every((v) => v === 0), 'strength 0: no noise');
    channel1!.forEach((v, i) => assert.ok(Math.abs(2 * v - channel2![i]!) < 1e-5, 'one noise value per pixel, scaled per channel'));
    assert.ok(channel1!.some((v) => Math.abs(v) > 0.1));
    tf.dispose([x, delta]);
  });

  it('the mean w: w̄_k ← mean_k + β·(w̄_k − mean_k) for the classes in the batch only; ψ pulls w toward it at inference', async () => {
    await tf.setBackend('cpu');
    const layer = new WSpaceTruncation({ classes: 3, decay: 0.9 });
    const w = tf.tensor2d([[1, 2], [3, 4], [10, 20]]);
    const label = tf.tensor2d([0, 0, 2], [3, 1], 'int32');
    layer.apply([w, label]);
    layer.setWeights([tf.tensor2d([[1, 1], [5, 5], [0, 0]])]);
    const passed = layer.apply([w, label], { training: true }) as tf.Tensor;
    assert.deepEqual(passed.arraySync(), w.arraySync(), 'training passes w through');
    const expected = [[2 + 0.9 * (1 - 2), 3 + 0.9 * (1 - 3)], [5, 5], [10 + 0.9 * (0 - 10), 20 + 0.9 * (0 - 20)]];
    (layer.getWeights()[0]!.arraySync() as number[][]).forEach((row, k) => row.forEach((v, j) => assert.ok(Math.abs(v - expected[k]![j]!) < 1e-5, `w̄[${k}][${j}] ${v}`)));
    layer.psi = 0.5;
    const pulled = (layer.apply([w, label]) as tf.Tensor).arraySync() as number[][];
    const average = layer.getWeights()[0]!.arraySync() as number[][];
    pulled.forEach((row, b) => row.forEach((v, j) => {
      const k = [0, 0, 2][b]!;
      assert.ok(Math.abs(v - (average[k]![j]! + 0.5 * ((w.arraySync())[b]![j]! - average[k]![j]!))) < 1e-5);
    }));
    tf.dispose([w, label, passed]);
  });

  it('a generator saved and reloaded (as checkpoints are) has its custom layers, its mean w and the same images', async () => {
    await tf.setBackend('cpu');
    const family = getFamily('cstylegan-lite');
    const generator = family.buildGenerator(resolveFamilyConfig(family, SMALL), context('cstylegan-lite', [28, 28, 1]));
    const z = tf.randomNormal([4, 8], 0, 1, 'float32', 2);
    const labels = tf.tensor2d([1, 2, 3, 1], [4, 1], 'int32');
    tf.dispose(generator.apply([z, labels], { training: true }) as tf.Tensor); // moves w̄ off zero
    let artifacts: tf.io.ModelArtifacts | undefined;
    await generator.save(tf.io.withSaveHandler((a) => { artifacts = a; return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }); }));
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    assert.deepEqual(reloaded.layers.map((l) => l.getClassName()), generator.layers.map((l) => l.getClassName()));
    assert.ok(sameBits(snapshotWeights(reloaded), snapshotWeights(generator)));
    assert.ok(truncationLayer(reloaded).getWeights()[0]!.abs().sum().dataSync()[0]! > 0, 'the mean w travels in the checkpoint');
    const [a, b] = [generator, reloaded].map((m) => (m.predict([z, labels]) as tf.Tensor).dataSync() as Float32Array);
    assert.ok(sameBits([a!], [b!]));
    tf.dispose([z, labels]);
    generator.dispose();
    reloaded.dispose();
  });

  let mnist: Dataset | undefined;
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const name of FAMILIES) {
      it(`${name} on ${backend}: real MNIST steps; the mean w moves in G's step only, D's step leaves G bit-identical, no leak`, async (t) => {
        if (backend === 'wasm') assert.equal((await selectBackend({ prefer: 'wasm' })).name, 'wasm', 'the wasm backend must start here');
        else await tf.setBackend('cpu');
        mnist ??= await mnistSubset(256);
        const family = getFamily(name);
        const ctx = context(name, [28, 28, 1]);
        const pair = buildGanPair(family, resolveFamilyConfig(family, SMALL), ctx);
        const stepper = new GanStepper({ ...pair, numClasses: ctx.numClasses, latentDim: ctx.latentDim, loss: 'non-saturating',
          learningRateGenerator: 1e-3, learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 3 });
        const batch = 16;
        const batches = Array.from({ length: 4 }, (_, i) => ({
          real: tf.tensor4d(mnist!.images.subarray(i * batch * 784, (i + 1) * batch * 784), [batch, 28, 28, 1]),
          labels: family.conditional ? tf.tensor2d(mnist!.labels!.subarray(i * batch, (i + 1) * batch), [batch, 1], 'int32') : null,
        }));
        const average = () => Float32Array.from(truncationLayer(pair.generator).getWeights()[0]!.dataSync());
        const iterate = (i: number) => {
          const { real, labels } = batches[i % batches.length]!;
          const d = stepper.trainDiscriminatorStep(real, labels, 2 * i);
          const g = stepper.trainGeneratorStep(batch, 2 * i + 1);
          assert.ok([d.dLoss, d.dReal, d.dFake, g.gLoss].every(Number.isFinite), JSON.stringify({ d, g }));
        };
        try {
          iterate(0); // Adam creates its moment variables on the first update
          const w0 = average();
          assert.ok(w0.some((v) => v !== 0), 'the first G step moved the mean w off zero');

          const g0 = snapshotWeights(pair.generator);
          stepper.trainDiscriminatorStep(batches[1]!.real, batches[1]!.labels, 100);
          assert.ok(sameBits(snapshotWeights(pair.generator), g0), "D's step (a training-mode G pass) changed G or its mean w");
          stepper.trainGeneratorStep(batch, 101);
          const w1 = average();
          assert.ok(!sameBits([w1], [w0]), "G's step moved the mean w");
          if (family.conditional) {
            // The G step's fake labels are drawn from (seed, key); only those classes' rows move.
            const rows = (v: Float32Array) => Array.from({ length: 10 }, (_, k) => v.subarray(k * 16, (k + 1) * 16));
            const moved = rows(w1).map((row, k) => !sameBits([row], [rows(w0)[k]!]));
            assert.ok(moved.some(Boolean), 'some class means moved');
          }
          const g1 = snapshotWeights(pair.generator);
          pair.generator.trainableWeights.forEach((w) => {
            const i = pair.generator.weights.indexOf(w);
            assert.ok(!sameBits([g1[i]!], [g0[i]!]), `generator weight ${w.name} did not move in G's step`);
          });

          const tensors = tf.memory().numTensors;
          const started = performance.now();
          const steps = backend === 'cpu' ? 1 : 3; // tfjs's cpu convolutions take seconds per step here
          for (let i = 1; i <= steps; i++) iterate(i);
          const seconds = (performance.now() - started) / 1000;
          assert.equal(tf.memory().numTensors, tensors, 'tensors leaked across training steps');
          t.diagnostic(`${name} ${backend}: ${(steps / seconds).toFixed(2)} steps/s (batch ${batch}, 28×28, D+G)`);
        } finally {
          stepper.dispose();
          for (const b of batches) tf.dispose([b.real, ...(b.labels ? [b.labels] : [])]);
          pair.generator.dispose();
          pair.discriminator.dispose();
        }
      });
    }
  }
});
