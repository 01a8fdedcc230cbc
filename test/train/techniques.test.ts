// The training techniques of issue 12, each checked against what it claims: the generator EMA follows its recurrence
// and is what checkpoints keep, resume continues and export writes; one-sided label smoothing changes the real side of
// D's loss only; the minibatch-stddev and spectral-normalisation layers train inside every family's discriminator.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { readManifest } from '../../common/onnx-metadata.ts';
import { exportRun } from '../../export/export-run.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { GanStepper, streamSeed } from '../../train/gan-stepper.ts';
import { binaryCrossEntropyDiscriminatorLoss } from '../../train/losses/binary-cross-entropy.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { buildGanPair, trainGan } from '../../train/trainer.ts';
import { trainCommand } from '../../cli/train.ts';
import { PRESETS } from '../../train/presets.ts';
import { runOnnx } from '../export/helpers.ts';
import { mnistSubset, tempDir, useBestBackend } from './helpers.ts';

const SMALL_MLP = { generatorUnits: [16, 32], discriminatorUnits: [32, 16] };
const CONTEXT = { imageShape: [28, 28, 1] as [number, number, number], numClasses: null, latentDim: 8, seed: 3 };

let mnist: Dataset;

function trainableValues(model: tf.LayersModel): Float32Array[] {
  return model.trainableWeights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

function frozenValues(model: tf.LayersModel): Float32Array[] {
  return model.nonTrainableWeights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

function maxAbsDiff(a: Float32Array[] | Float32Array, b: Float32Array[] | Float32Array): number {
  const xs = a instanceof Float32Array ? [a] : a;
  const ys = b instanceof Float32Array ? [b] : b;
  assert.equal(xs.length, ys.length);
  let max = 0;
  xs.forEach((x, i) => {
    const y = ys[i]!;
    assert.equal(x.length, y.length);
    for (let j = 0; j < x.length; j++) max = Math.max(max, Math.abs(x[j]! - y[j]!));
  });
  return max;
}

before(async () => {
  await useBestBackend();
  mnist = await mnistSubset(128);
});

describe('generator EMA', () => {
  it('after k steps the average equals d·w_ema + (1 − d)·w applied to the logged raw weights; moving statistics are copied; no leak', () => {
    const family = getFamily('mlp');
    const pair = buildGanPair(family, resolveFamilyConfig(family, SMALL_MLP), CONTEXT);
    const decay = 0.7;
    const stepper = new GanStepper({ ...pair, numClasses: null, latentDim: 8, loss: 'non-saturating', learningRateGenerator: 1e-2,
      learningRateDiscriminator: 1e-2, beta1: 0.5, seed: 3, techniques: { generatorEma: decay } });
    const average = stepper.samplingGenerator();
    assert.notEqual(average, pair.generator, 'samplingGenerator() must be the EMA copy');
    // The average starts as a copy of G.
    let expected = trainableValues(pair.generator).map((w) => Float64Array.from(w));
    assert.equal(maxAbsDiff(trainableValues(average), trainableValues(pair.generator)), 0);
    const real = tf.tensor4d(mnist.images.subarray(0, 16 * 784), [16, 28, 28, 1]);
    let tensors = 0;
    for (let k = 0; k < 6; k++) {
      stepper.trainDiscriminatorStep(real, null, 2 * k);
      stepper.trainGeneratorStep(16, 2 * k + 1);
      const raw = trainableValues(pair.generator); // the logged raw weights after this G update
      expected = expected.map((e, i) => e.map((v, j) => decay * v + (1 - decay) * raw[i]![j]!));
      if (k === 1) tensors = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, tensors, 'the EMA update leaks tensors');
    const got = trainableValues(average);
    const drift = maxAbsDiff(got, expected.map((e) => Float32Array.from(e)));
    assert.ok(drift < 1e-6, `EMA differs from the hand-computed recurrence by ${drift}`);
    // Not trivially equal to the raw weights: with d = 0.7 and lr 1e-2 the average trails G visibly.
    assert.ok(maxAbsDiff(got, trainableValues(pair.generator)) > 1e-3);
    assert.ok(frozenValues(pair.generator).length > 0, 'the mlp generator has BatchNorm moving statistics');
    assert.equal(maxAbsDiff(frozenValues(average), frozenValues(pair.generator)), 0, 'moving statistics are copied, not averaged');
    real.dispose();
    stepper.dispose();
  });

  it('rejects a decay outside (0, 1)', () => {
    const family = getFamily('mlp');
    const pair = buildGanPair(family, resolveFamilyConfig(family, SMALL_MLP), CONTEXT);
    for (const decay of [1, 1.5, -0.1]) {
      assert.throws(() => new GanStepper({ ...pair, numClasses: null, latentDim: 8, loss: 'non-saturating', learningRateGenerator: 1e-3,
        learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 3, techniques: { generatorEma: decay } }), /'generatorEma'.*\(0, 1\)/);
    }
  });

  it('trainGan keeps the average in checkpoints, resume continues it, export writes it (ONNX matches the EMA, not the raw G)', async () => {
    const outDir = await tempDir('ema');
    const decay = 0.5;
    const options = { family: 'mlp', familyConfig: SMALL_MLP, dataset: mnist, batchSize: 16, latentDim: 8, seed: 4, outDir, progress: false,
      generatorEma: decay, learningRateGenerator: 1e-2, keepCheckpoints: 0 } as const;
    await trainGan({ ...options, steps: 3 });
    const first = await loadCheckpoint(outDir);
    assert.ok(first.generatorEma, 'the checkpoint has no generator-ema network');
    assert.equal(first.sidecar.training?.generatorEma, decay);
    const ema3 = trainableValues(first.generatorEma);
    assert.ok(maxAbsDiff(ema3, trainableValues(first.generator)) > 1e-4, 'the saved average equals the raw generator');

    await trainGan({ ...options, steps: 4, resume: true });
    const second = await loadCheckpoint(outDir);
    assert.equal(second.sidecar.step, 4);
    // Continued: ema4 = d·ema3 + (1 − d)·g4. Re-cloned from the resumed G it would be d·g3 + (1 − d)·g4.
    const g4 = trainableValues(second.generator);
    const continued = ema3.map((e, i) => e.map((v, j) => decay * v + (1 - decay) * g4[i]![j]!));
    const drift = maxAbsDiff(trainableValues(second.generatorEma!), continued);
    assert.ok(drift < 1e-6, `resumed EMA is not the continued average (|Δ| ${drift})`);
    const recloned = trainableValues(first.generator).map((e, i) => e.map((v, j) => decay * v + (1 - decay) * g4[i]![j]!));
    assert.ok(maxAbsDiff(trainableValues(second.generatorEma!), recloned) > 1e-4);

    const outPath = join(outDir, 'model.onnx');
    const report = await exportRun({ runDir: outDir, outPath, samples: 32 });
    const bytes = new Uint8Array(await readFile(outPath));
    const manifest = readManifest(bytes, outPath);
    assert.equal(manifest.training.generatorEma, decay);
    const sidecar = JSON.parse(await readFile(join(outDir, 'model.json'), 'utf8')) as { source: { generator: string } };
    assert.equal(sidecar.source.generator, 'generator-ema');
    assert.ok(report.parity.maxAbsDiff < 1e-4);
    // Independently of the exporter's own check: ONNX output vs each tfjs model on fixed latents.
    const z = Float32Array.from({ length: 8 * 8 }, (_, i) => Math.sin(i * 1.7));
    const { onnx } = await runOnnx(bytes, [{ name: 'z', data: z, shape: [8, 8] }]);
    const predict = (model: tf.LayersModel) => tf.tidy(() => Float32Array.from((model.predict(tf.tensor2d(z, [8, 8])) as tf.Tensor).dataSync()));
    const vsEma = maxAbsDiff(onnx, predict(second.generatorEma!));
    const vsRaw = maxAbsDiff(onnx, predict(second.generator));
    assert.ok(vsEma < 1e-4, `ONNX vs the EMA generator: ${vsEma}`);
    assert.ok(vsRaw > 1e-3, `ONNX output is as close to the raw generator (${vsRaw}) as to the EMA`);
    for (const c of [first, second]) for (const m of [c.generator, c.discriminator, c.generatorEma]) m?.dispose();
  });
});

describe('one-sided label smoothing', () => {
  it('D loss with smoothing 0.1 is the hand-computed BCE against target 0.9 on real logits, fake side unchanged', () => {
    const real = [2.5, -1, 0.3, 4];
    const fake = [-2, 0.7, 1.1, -0.2];
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const bce = (logit: number, t: number) => -(t * Math.log(1 / (1 + Math.exp(-logit))) + (1 - t) * Math.log(1 - 1 / (1 + Math.exp(-logit))));
    const expected = (mean(real.map((l) => bce(l, 0.9))) + mean(fake.map((l) => bce(l, 0)))) / 2;
    const got = tf.tidy(() => binaryCrossEntropyDiscriminatorLoss(tf.tensor2d(real, [4, 1]), tf.tensor2d(fake, [4, 1]), { realTarget: 0.9 }).dataSync()[0]!);
    assert.ok(Math.abs(got - expected) < 1e-6, `${got} vs ${expected}`);
    // Fake side: the same with and without smoothing; the difference is ½·0.1·mean(l_real) (softplus(l) − softplus(−l) = l).
    const unsmoothed = tf.tidy(() => binaryCrossEntropyDiscriminatorLoss(tf.tensor2d(real, [4, 1]), tf.tensor2d(fake, [4, 1]), { realTarget: 1 }).dataSync()[0]!);
    assert.ok(Math.abs(unsmoothed - (mean(real.map((l) => softplus(-l))) + mean(fake.map(softplus))) / 2) < 1e-6);
    assert.ok(Math.abs((got - unsmoothed) - 0.05 * mean(real)) < 1e-6);
  });

  it('a GanStepper D step with labelSmoothing 0.1 reports exactly that loss on its own real and fake logits', () => {
    const family = getFamily('mlp');
    const pair = buildGanPair(family, resolveFamilyConfig(family, SMALL_MLP), CONTEXT);
    const stepper = new GanStepper({ ...pair, numClasses: null, latentDim: 8, loss: 'non-saturating', learningRateGenerator: 1e-3,
      learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 3, labelSmoothing: 0.1 });
    const real = tf.tensor4d(mnist.images.subarray(0, 8 * 784), [8, 28, 28, 1]);
    const key = 6;
    // The step's fakes: G in training mode on its z for this key (the mlp D has no dropout or BatchNorm, so D is deterministic).
    const [realLogits, fakeLogits] = tf.tidy(() => {
      const z = tf.randomNormal([8, 8], 0, 1, 'float32', streamSeed(3, key));
      const fakes = pair.generator.apply(z, { training: true }) as tf.Tensor;
      return [Array.from((pair.discriminator.predict(real) as tf.Tensor).dataSync()), Array.from((pair.discriminator.predict(fakes) as tf.Tensor).dataSync())];
    });
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const expected = (mean(realLogits.map((l) => 0.9 * softplus(-l) + 0.1 * softplus(l))) + mean(fakeLogits.map(softplus))) / 2;
    const metrics = stepper.trainDiscriminatorStep(real, null, key);
    assert.ok(Math.abs(metrics.dLoss - expected) < 1e-5, `dLoss ${metrics.dLoss} vs hand-computed ${expected}`);
    real.dispose();
    stepper.dispose();
  });

  it('trainGan runs with labelSmoothing 0.1 and records it', async () => {
    const outDir = await tempDir('smooth');
    const result = await trainGan({ family: 'mlp', familyConfig: SMALL_MLP, dataset: mnist, steps: 2, batchSize: 16, latentDim: 8, outDir, progress: false, labelSmoothing: 0.1 });
    assert.equal(result.step, 2);
    assert.ok(Number.isFinite(result.metrics!.dLoss));
    const loaded = await loadCheckpoint(outDir);
    assert.equal(loaded.sidecar.training?.labelSmoothing, 0.1);
    loaded.generator.dispose();
    loaded.discriminator.dispose();
  });
});

/** Small configs of every family; the option code paths are the full ones. */
const FAMILY_CONFIGS: Record<string, Record<string, unknown>> = {
  mlp: SMALL_MLP,
  cgan: { generatorUnits: [16, 32], discriminatorUnits: [32, 16] },
  acgan: { generatorUnits: [16, 32], discriminatorUnits: [32, 16] },
  dcgan: { generatorChannels: 8, discriminatorChannels: 4 },
  cdcgan: { generatorChannels: 8, discriminatorChannels: 4 },
};

describe('minibatch stddev and spectral normalisation in every family', () => {
  for (const name of Object.keys(FAMILY_CONFIGS)) {
    it(`${name}: minibatchStddev and spectralNorm put the layers in D only; a D step advances u, a G step leaves D (u included) bit-identical`, () => {
      const family = getFamily(name);
      const context = { ...CONTEXT, numClasses: family.conditional ? 10 : null };
      const plain = buildGanPair(family, resolveFamilyConfig(family, FAMILY_CONFIGS[name]), context);
      const pair = buildGanPair(family, resolveFamilyConfig(family, { ...FAMILY_CONFIGS[name], minibatchStddev: true, spectralNorm: true }), context);
      const classes = (m: tf.LayersModel) => m.layers.map((l) => l.getClassName());
      assert.deepEqual(classes(pair.generator), classes(plain.generator), 'the generator must not change');
      const d = classes(pair.discriminator);
      assert.equal(d.filter((c) => c === 'MinibatchStddev').length, 1);
      // Every Dense/Conv2D of D's trunk and heads became a spectral one; only the projection's learnt sum stays plain.
      const plainKernels = pair.discriminator.layers.filter((l) => ['Dense', 'Conv2D'].includes(l.getClassName())).map((l) => l.name);
      assert.deepEqual(plainKernels, family.conditional && family.auxiliaryClassifier !== true ? ['d_projection_sum'] : []);
      const kernels = (cs: string[]) => cs.filter((c) => /^Spectral(Dense|Conv2D)$/.test(c)).length;
      assert.equal(kernels(d), classes(plain.discriminator).filter((c) => c === 'Dense' || c === 'Conv2D').length - plainKernels.length);
      const stddev = pair.discriminator.layers.find((l) => l.getClassName() === 'MinibatchStddev')!;
      const [inShape, outShape] = [(stddev.input as tf.SymbolicTensor).shape, (stddev.output as tf.SymbolicTensor).shape];
      assert.equal(outShape.at(-1), inShape.at(-1)! + 1);
      assert.equal(outShape.length, name.includes('dc') ? 4 : 2, 'conv families: on the feature maps; MLP families: on the features');

      const stepper = new GanStepper({ ...pair, numClasses: context.numClasses, latentDim: 8, loss: 'non-saturating', learningRateGenerator: 1e-3,
        learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 3, classLossWeight: family.auxiliaryClassifier === true ? 1 : null });
      const real = tf.tensor4d(mnist.images.subarray(0, 8 * 784), [8, 28, 28, 1]);
      const labels = family.conditional ? tf.tensor2d(mnist.labels!.subarray(0, 8), [8, 1], 'int32') : null;
      const u = () => pair.discriminator.nonTrainableWeights.filter((w) => w.originalName.endsWith('/u')).map((w) => Float32Array.from(w.read().dataSync()));
      stepper.trainDiscriminatorStep(real, labels, 0);
      stepper.trainGeneratorStep(8, 1);
      const u0 = u();
      assert.equal(u0.length, kernels(d));
      const metrics = stepper.trainDiscriminatorStep(real, labels, 2);
      assert.ok(Number.isFinite(metrics.dLoss) && metrics.gradNormD > 0);
      assert.ok(maxAbsDiff(u(), u0) > 0, 'the D step did not advance the power iteration');
      const d1 = pair.discriminator.weights.map((w) => Float32Array.from(w.read().dataSync()));
      const tensors = tf.memory().numTensors;
      const g = stepper.trainGeneratorStep(8, 3);
      assert.ok(Number.isFinite(g.gLoss) && g.gradNormG > 0);
      assert.equal(maxAbsDiff(pair.discriminator.weights.map((w) => Float32Array.from(w.read().dataSync())), d1), 0, 'the G step changed D (u is restored by withFrozenStatistics)');
      assert.equal(tf.memory().numTensors, tensors, 'tensor leak in the G step');
      tf.dispose(labels ? [real, labels] : [real]);
      stepper.dispose();
      for (const m of [plain.generator, plain.discriminator, pair.generator, pair.discriminator]) m.dispose();
    });
  }

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`trainGan with spectralNorm and minibatchStddev runs on ${backend} (dcgan and cgan), checkpoints keep u, resume continues from it`, async () => {
      const before = tf.getBackend();
      if (backend === 'cpu') await tf.setBackend('cpu');
      try {
        assert.equal(tf.getBackend(), backend);
        for (const name of ['dcgan', 'cgan']) {
          const outDir = await tempDir(`sn-${name}`);
          const options = { family: name, familyConfig: { ...FAMILY_CONFIGS[name], spectralNorm: true, minibatchStddev: true }, dataset: mnist, batchSize: 8,
            latentDim: 8, seed: 2, outDir, progress: false } as const;
          const result = await trainGan({ ...options, steps: 2 });
          assert.equal(result.step, 2);
          assert.ok(Number.isFinite(result.metrics!.dLoss) && Number.isFinite(result.metrics!.gLoss));
          const saved = await loadCheckpoint(outDir);
          const us = saved.discriminator.nonTrainableWeights.filter((w) => w.originalName.endsWith('/u'));
          assert.ok(us.length >= 2);
          // u after training is a unit vector (what the iteration stores), not its N(0, 1) initial draw.
          for (const w of us) assert.ok(Math.abs(tf.tidy(() => tf.norm(w.read()).dataSync()[0]!) - 1) < 1e-4);
          const resumed = await trainGan({ ...options, steps: 3, resume: true });
          assert.equal(resumed.step, 3);
          for (const m of [saved.generator, saved.discriminator]) m.dispose();
        }
      } finally {
        await tf.setBackend(before);
      }
    });
  }
});

describe('sngan preset and CLI flags', () => {
  it("preset 'sngan' trains a dcgan with hinge loss, Adam (0.5, 0.999), one D step and spectrally normalised D kernels", async () => {
    const outDir = await tempDir('sngan');
    const result = await trainGan({ family: 'dcgan', familyConfig: FAMILY_CONFIGS.dcgan, preset: 'sngan', dataset: mnist, steps: 2, batchSize: 8, latentDim: 8, outDir, progress: false });
    assert.equal(result.step, 2);
    const loaded = await loadCheckpoint(outDir);
    assert.equal(loaded.sidecar.loss, 'hinge');
    assert.equal(loaded.sidecar.familyConfig.spectralNorm, true);
    assert.deepEqual([loaded.sidecar.training?.beta1, loaded.sidecar.training?.beta2, loaded.sidecar.training?.discriminatorSteps], [0.5, 0.999, 1]);
    assert.equal(loaded.sidecar.training?.preset, 'sngan');
    assert.ok(loaded.discriminator.layers.some((l) => l.getClassName() === 'SpectralConv2D'));
    assert.ok(!loaded.discriminator.layers.some((l) => l.getClassName() === 'Conv2D'));
    assert.match(PRESETS.sngan!.summary, /Miyato/);
    for (const m of [loaded.generator, loaded.discriminator]) m.dispose();
  });

  it('`ganforge train --minibatch-stddev --spectral-norm` sets both family config fields', async () => {
    const outDir = await tempDir('cli-flags');
    const code = await trainCommand.run(['--family', 'mlp', '--dataset', 'mnist', '--limit', '64', '--steps', '1', '--batch-size', '16', '--latent-dim', '8',
      '--set', 'generatorUnits=[16]', '--set', 'discriminatorUnits=[16]', '--minibatch-stddev', '--spectral-norm', '--out', outDir, '--backend', tf.getBackend() === 'wasm' ? 'wasm' : 'cpu']);
    assert.equal(code, 0);
    const loaded = await loadCheckpoint(outDir);
    assert.equal(loaded.sidecar.familyConfig.minibatchStddev, true);
    assert.equal(loaded.sidecar.familyConfig.spectralNorm, true);
    assert.ok(loaded.discriminator.layers.some((l) => l.getClassName() === 'MinibatchStddev'));
    for (const m of [loaded.generator, loaded.discriminator]) m.dispose();
  });
});
