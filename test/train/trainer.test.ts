// Real tfjs training steps on real MNIST: each side's update leaves the other side bit-identical, weights move, no
// tensors leak, runs are seeded, logs/samples/checkpoints appear, divergence and Ctrl-C are handled.

import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { GanStepper } from '../../train/gan-stepper.ts';
import { buildGanPair, trainGan, type StepMetrics } from '../../train/trainer.ts';
import { mnistSubset, sameBits, snapshotWeights, tempDir, useBestBackend } from './helpers.ts';

/** Small networks keep each step in milliseconds; the code paths are the full ones. */
const SMALL = {
  mlp: { generatorUnits: [32, 64], discriminatorUnits: [64, 32] },
  cgan: { generatorUnits: [32, 64], discriminatorUnits: [64, 32] },
  acgan: { generatorUnits: [32, 64], discriminatorUnits: [64, 32] },
} as const;

let mnist: Dataset;

describe('training', () => {
  before(async () => {
    await useBestBackend();
    mnist = await mnistSubset(256);
  });

  for (const name of ['mlp', 'cgan', 'acgan'] as const) {
    it(`${name}: D step leaves G bit-identical, G step leaves D bit-identical, both move their own side, no leak`, () => {
      const family = getFamily(name);
      const context = { imageShape: [28, 28, 1] as [number, number, number], numClasses: family.conditional ? 10 : null, latentDim: 8, seed: 1 };
      const pair = buildGanPair(family, resolveFamilyConfig(family, SMALL[name]), context);
      const stepper = new GanStepper({ ...pair, numClasses: context.numClasses, latentDim: 8, loss: 'non-saturating',
        learningRateGenerator: 1e-3, learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 1, classLossWeight: family.auxiliaryClassifier === true ? 1 : null });
      const real = tf.tensor4d(mnist.images.subarray(0, 16 * 784), [16, 28, 28, 1]);
      const labels = family.conditional ? tf.tensor2d(mnist.labels!.subarray(0, 16), [16, 1], 'int32') : null;
      const iterate = (i: number) => {
        stepper.trainDiscriminatorStep(real, labels, 2 * i);
        stepper.trainGeneratorStep(16, 2 * i + 1);
      };
      iterate(0); // Adam creates its moment variables on the first update

      const g0 = snapshotWeights(pair.generator);
      const d0 = snapshotWeights(pair.discriminator);
      const d = stepper.trainDiscriminatorStep(real, labels, 100);
      assert.ok([d.dLoss, d.dReal, d.dFake].every(Number.isFinite));
      assert.ok(d.dReal > 0 && d.dReal < 1 && d.dFake > 0 && d.dFake < 1);
      if (family.auxiliaryClassifier === true) {
        assert.ok(d.dClassLoss! > 0 && Number.isFinite(d.dClassLoss), `class loss ${d.dClassLoss}`);
        assert.ok(d.dClassAccuracy! >= 0 && d.dClassAccuracy! <= 1, `class accuracy ${d.dClassAccuracy}`);
      } else {
        assert.equal(d.dClassLoss, undefined);
      }
      assert.ok(sameBits(snapshotWeights(pair.generator), g0), 'the D step changed generator weights or BN statistics');
      const d1 = snapshotWeights(pair.discriminator);
      assert.ok(!sameBits(d1, d0), 'the D step did not move the discriminator');

      const g = stepper.trainGeneratorStep(16, 101);
      assert.ok(Number.isFinite(g.gLoss));
      assert.equal(Number.isFinite(g.gClassLoss), family.auxiliaryClassifier === true);
      assert.ok(sameBits(snapshotWeights(pair.discriminator), d1), 'the G step changed discriminator weights');
      const g1 = snapshotWeights(pair.generator);
      assert.ok(!sameBits(g1, g0), 'the G step did not move the generator');
      // Every trainable generator weight moved, not just some.
      pair.generator.trainableWeights.forEach((w, i) => {
        const k = pair.generator.weights.indexOf(w);
        assert.ok(!sameBits([g1[k]!], [g0[k]!]), `generator weight ${w.name} (${i}) did not move`);
      });

      const tensors = tf.memory().numTensors;
      for (let i = 1; i <= 3; i++) iterate(i);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked across training steps');
      stepper.dispose();
      real.dispose();
      labels?.dispose();
    });
  }

  it('trainGan: two tiny epochs write metrics, samples, checkpoints, with flat memory', async () => {
    const outDir = await tempDir('train');
    const memory: number[] = [];
    const steps: StepMetrics[] = [];
    const result = await trainGan({
      family: 'cgan', familyConfig: SMALL.cgan, dataset: mnist, epochs: 2, batchSize: 32, latentDim: 8, seed: 5, outDir,
      progress: false, command: 'test',
      onStep: (m) => { steps.push(m); memory.push(tf.memory().numTensors); },
    });
    assert.equal(result.step, 16);
    assert.equal(result.epoch, 2);
    assert.equal(result.aborted, false);
    assert.deepEqual(steps.map((s) => s.epoch), [...new Array<number>(8).fill(1), ...new Array<number>(8).fill(2)]);
    assert.equal(memory[15], memory[7], `tensor count grew across epochs: ${memory.join(',')}`);
    assert.equal(new Set(memory.slice(1)).size, 1, `tensor count not flat: ${memory.join(',')}`);

    const lines = (await readFile(join(outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
    assert.equal(lines.length, 16);
    assert.ok(lines.every((l) => Number.isFinite(l.dLoss) && Number.isFinite(l.gLoss) && l.stepsPerSecond > 0));
    assert.deepEqual((await readdir(join(outDir, 'samples'))).sort(), ['epoch-0001.png', 'epoch-0002.png']);
    const png = await readFile(join(outDir, 'samples', 'epoch-0002.png'));
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    // 10 class rows × 8 columns of 28 px with 2 px padding: 8·28 + 9·2 = 242 wide, 10·28 + 11·2 = 302 high.
    assert.equal(png.readUInt32BE(16), 242);
    assert.equal(png.readUInt32BE(20), 302);

    const loaded = await loadCheckpoint(outDir);
    assert.equal(loaded.dir, result.checkpointDir);
    assert.equal(loaded.sidecar.step, 16);
    assert.equal(loaded.sidecar.epoch, 2);
    assert.equal(loaded.sidecar.family, 'cgan');
    assert.deepEqual(loaded.sidecar.classes, mnist.classes);
    assert.deepEqual(loaded.sidecar.imageShape, [28, 28, 1]);
    assert.equal(loaded.sidecar.latentDim, 8);
    assert.equal(loaded.sidecar.backend, tf.getBackend());
    assert.equal(loaded.sidecar.command, 'test');
    assert.equal(loaded.sidecar.metrics.gLoss, steps[15]!.gLoss);
  });

  it('is seeded: the same seed gives bit-identical weights, another seed does not', async () => {
    const run = async (seed: number) => {
      const outDir = await tempDir('seed');
      await trainGan({ family: 'mlp', familyConfig: SMALL.mlp, dataset: mnist, steps: 3, batchSize: 16, latentDim: 8, seed, outDir, progress: false });
      return snapshotWeights((await loadCheckpoint(outDir)).generator);
    };
    const a = await run(7);
    assert.ok(sameBits(await run(7), a));
    assert.ok(!sameBits(await run(8), a));
  });

  it('resume continues from the latest checkpoint', async () => {
    const outDir = await tempDir('resume');
    const options = { family: 'mlp', familyConfig: SMALL.mlp, dataset: mnist, batchSize: 32, latentDim: 8, outDir, progress: false } as const;
    await trainGan({ ...options, steps: 3 });
    const seen: number[] = [];
    const result = await trainGan({ ...options, steps: 5, resume: true, onStep: (m) => seen.push(m.step) });
    assert.deepEqual(seen, [4, 5]);
    assert.equal((await loadCheckpoint(outDir)).sidecar.step, result.step);
    const lines = (await readFile(join(outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 5, 'the resumed run appends to metrics.jsonl');
  });

  it('aborting saves a checkpoint at the current step', async () => {
    const outDir = await tempDir('abort');
    const controller = new AbortController();
    const result = await trainGan({
      family: 'mlp', familyConfig: SMALL.mlp, dataset: mnist, epochs: 3, batchSize: 32, latentDim: 8, outDir, progress: false,
      signal: controller.signal, onStep: (m) => { if (m.step === 3) controller.abort(); },
    });
    assert.equal(result.aborted, true);
    assert.equal(result.step, 3);
    assert.equal((await loadCheckpoint(outDir)).sidecar.step, 3);
  });

  it('a NaN loss stops training with NAN_LOSS naming the step and keeps the last good checkpoint', async () => {
    const outDir = await tempDir('nan');
    const poisoned: Dataset = { ...mnist, images: mnist.images.slice() };
    const first = await trainGan({ family: 'mlp', familyConfig: SMALL.mlp, dataset: mnist, steps: 2, batchSize: 32, latentDim: 8, outDir, progress: false });
    poisoned.images.fill(NaN);
    await assert.rejects(
      trainGan({ family: 'mlp', familyConfig: SMALL.mlp, dataset: poisoned, steps: 6, batchSize: 32, latentDim: 8, outDir, progress: false, resume: true }),
      (e: unknown) => e instanceof GanforgeError && e.code === 'NAN_LOSS' && /at step 3\b/.test(e.message));
    const loaded = await loadCheckpoint(outDir);
    assert.equal(loaded.dir, first.checkpointDir);
    assert.ok(snapshotWeights(loaded.generator).every((w) => w.every(Number.isFinite)));
  });

  it('inference-mode samples (what the export computes) match training-mode output statistics', async () => {
    const outDir = await tempDir('bn');
    const data = await mnistSubset(2048);
    const familyConfig = { generatorUnits: [128, 256, 512], ...(process.env.GANFORGE_TEST_BN_MOMENTUM ? { batchNormMomentum: Number(process.env.GANFORGE_TEST_BN_MOMENTUM) } : {}) };
    await trainGan({ family: 'mlp', familyConfig, dataset: data, steps: 30, batchSize: 64, outDir, progress: false, seed: 2 });
    const { generator } = await loadCheckpoint(outDir);
    const [inferenceStd, trainingStd, inferenceMean, trainingMean] = tf.tidy(() => {
      const z = tf.randomNormal([256, 100], 0, 1, 'float32', 3);
      const inference = generator.predict(z) as tf.Tensor;
      const training = generator.apply(z, { training: true }) as tf.Tensor;
      const stats = (t: tf.Tensor) => tf.moments(t);
      const a = stats(inference);
      const b = stats(training);
      return [a.variance.sqrt(), b.variance.sqrt(), a.mean, b.mean].map((t) => t.dataSync()[0]!);
    });
    assert.ok(inferenceStd! > 0.2, `inference-mode samples are flat grey (pixel std ${inferenceStd})`);
    assert.ok(inferenceStd! / trainingStd! > 0.7 && inferenceStd! / trainingStd! < 1.4, `pixel std inference ${inferenceStd} vs training ${trainingStd}`);
    assert.ok(Math.abs(inferenceMean! - trainingMean!) < 0.15, `pixel mean inference ${inferenceMean} vs training ${trainingMean}`);
  });

  it('rejects bad options with the field named', async () => {
    const base = { family: 'mlp', dataset: mnist, outDir: '/nonexistent', progress: false } as const;
    await assert.rejects(trainGan({ ...base, batchSize: 0 }), /'batchSize' must be an integer ≥ 1, got 0/);
    await assert.rejects(trainGan({ ...base, batchSize: 1000 }), /must not exceed the dataset size 256/);
    await assert.rejects(trainGan({ ...base, learningRateGenerator: -1 }), RangeError);
    await assert.rejects(trainGan({ ...base, loss: 'wasserstien' }), /unknown loss 'wasserstien'; allowed: non-saturating, minimax, wasserstein, hinge/);
    await assert.rejects(trainGan({ ...base, optimizer: 'adagrad' }), /unknown optimizer 'adagrad'; allowed: adam, rmsprop, sgd/);
    await assert.rejects(trainGan({ ...base, optimizer: 'sgd', beta2: 0.9 }), /'beta2' does nothing with optimizer 'sgd', which reads learningRate, momentum/);
    await assert.rejects(trainGan({ ...base, lrSchedule: 'cosine:5' }), /learning-rate schedule 'cosine:5' is not one of the forms; allowed: constant \| linear/);
    await assert.rejects(trainGan({ ...base, preset: 'wgan-lp' }), /unknown preset 'wgan-lp'; allowed: wgan, wgan-gp/);
    await assert.rejects(trainGan({ ...base, loss: 'hinge', labelSmoothing: 0.1 }), /label smoothing applies to losses on probabilities \(non-saturating, minimax\), not to 'hinge'/);
    await assert.rejects(trainGan({ ...base, family: 'cgan', dataset: { ...mnist, labels: null, classes: null } }), /needs labels/);
  });
});
