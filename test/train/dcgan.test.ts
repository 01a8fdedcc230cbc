// The convolutional families (dcgan, cdcgan): the 28×28 reference layout, sizes derived from the image shape (and
// refused when unreachable), config checks, and real train steps on wasm and cpu in which each side's update leaves the
// other side bit-identical (BatchNorm moving statistics included) and leaks no tensor.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { trainCommand } from '../../cli/train.ts';
import { selectBackend } from '../../train/backend.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { GENERATOR_LAYERS, LABEL_INPUT, LATENT_INPUT, type BuildContext } from '../../train/models/family.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { GanStepper } from '../../train/gan-stepper.ts';
import { buildGanPair } from '../../train/trainer.ts';
import { mnistSubset, sameBits, snapshotWeights } from './helpers.ts';

/** Narrow networks keep a conv step in milliseconds; BatchNorm in D too, so both sides have moving statistics. */
const SMALL = { generatorChannels: 8, discriminatorChannels: 4, discriminatorNorm: 'batch' };
/** Narrow enough that the 64×64 shape checks stay fast; the sizing logic is the one of the defaults. */
const NARROW = { generatorChannels: 32, discriminatorChannels: 8 };

type Shape = [number, number, number];

function context(family: string, imageShape: Shape, latentDim = 8): BuildContext {
  return { imageShape, numClasses: getFamily(family).conditional ? 10 : null, latentDim, seed: 7 };
}

/** [class name, output shape without batch] of each layer. */
function layout(model: tf.LayersModel): [string, number[]][] {
  return model.layers.map((l) => [l.getClassName(), (l.outputShape as (number | null)[]).slice(1) as number[]]);
}

describe('dcgan and cdcgan', () => {
  after(async () => { await tf.setBackend('cpu'); });

  it('dcgan at 28×28×1 is the reference: Dense 100→7·7·128, BN, ReLU, 7×7×128, ConvT k4 s2 → 64, BN, ReLU, ConvT → 1, tanh', async () => {
    await tf.setBackend('cpu');
    const family = getFamily('dcgan');
    const generator = family.buildGenerator(resolveFamilyConfig(family), context('dcgan', [28, 28, 1], 100));
    assert.deepEqual(layout(generator), [
      ['InputLayer', [100]], ['Dense', [6272]], ['BatchNormalization', [6272]], ['ReLU', [6272]], ['Reshape', [7, 7, 128]],
      ['Conv2DTranspose', [14, 14, 64]], ['BatchNormalization', [14, 14, 64]], ['ReLU', [14, 14, 64]],
      ['Conv2DTranspose', [28, 28, 1]], ['Activation', [28, 28, 1]],
    ]);
    for (const layer of generator.layers.filter((l) => l.getClassName() === 'Conv2DTranspose')) {
      assert.deepEqual(pick(layer.getConfig(), ['kernelSize', 'strides', 'padding']), { kernelSize: [4, 4], strides: [2, 2], padding: 'same' });
    }
    const discriminator = family.buildDiscriminator(resolveFamilyConfig(family), context('dcgan', [28, 28, 1]));
    assert.deepEqual(layout(discriminator), [
      ['InputLayer', [28, 28, 1]], ['Conv2D', [14, 14, 64]], ['LeakyReLU', [14, 14, 64]], ['Conv2D', [7, 7, 128]], ['LeakyReLU', [7, 7, 128]],
      ['Flatten', [6272]], ['Dense', [1]],
    ]);
    const dense = discriminator.layers.at(-1)!;
    assert.equal((dense.getConfig() as { activation: string }).activation, 'linear', 'D returns a logit, not a probability');
    for (const layer of discriminator.layers.filter((l) => l.getClassName() === 'LeakyReLU')) assert.equal((layer.getConfig() as { alpha: number }).alpha, 0.2);
  });

  const sizes: [Shape, number][] = [[[28, 28, 1], 7], [[32, 32, 3], 4], [[64, 64, 3], 4]];
  for (const name of ['dcgan', 'cdcgan']) {
    for (const [imageShape, base] of sizes) {
      it(`${name}: ${imageShape.join('×')} images start from a ${base}×${base} grid; G and D outputs have the right shapes`, async () => {
        await tf.setBackend('cpu');
        const family = getFamily(name);
        const config = resolveFamilyConfig(family, NARROW);
        const ctx = context(name, imageShape);
        const generator = family.buildGenerator(config, ctx);
        const discriminator = family.buildDiscriminator(config, ctx);
        assert.deepEqual(generator.inputNames, family.conditional ? [LATENT_INPUT, LABEL_INPUT] : [LATENT_INPUT]);
        assert.deepEqual(generator.getLayer('g_base').outputShape, [null, base, base, 32]);
        // D mirrors G: one stride-2 conv per doubling, widths 8, 16, … from the first.
        const stages = Math.log2(imageShape[0] / base);
        const lastConv = discriminator.getLayer(`d_conv_${stages - 1}`);
        assert.deepEqual(lastConv.outputShape, [null, base, base, 8 * 2 ** (stages - 1)]);
        for (const layer of generator.layers) {
          assert.ok(GENERATOR_LAYERS.includes(layer.getClassName()), `${layer.name} is a ${layer.getClassName()}, which the exporter cannot map`);
        }
        tf.tidy(() => {
          const z = tf.randomNormal([3, 8], 0, 1, 'float32', 1);
          const labels = tf.tensor2d([0, 4, 9], [3, 1], 'int32');
          const images = generator.predict(family.conditional ? [z, labels] : z) as tf.Tensor;
          assert.deepEqual(images.shape, [3, ...imageShape]);
          assert.ok(images.min().dataSync()[0]! >= -1 && images.max().dataSync()[0]! <= 1, 'tanh output in [-1, 1]');
          const logits = discriminator.predict(family.conditional ? [images, labels] : images) as tf.Tensor;
          assert.deepEqual(logits.shape, [3, 1]);
          if (family.conditional) {
            // The projection term makes D's answer depend on the label it is given for the same image (a full-range
            // image: an untrained G's N(0, 0.02) weights draw images too faint to tell the logits apart).
            const noise = tf.randomUniform([3, ...imageShape], -1, 1, 'float32', 2);
            const [a, b] = [labels, tf.tensor2d([1, 5, 0], [3, 1], 'int32')].map((l) => discriminator.predict([noise, l]) as tf.Tensor);
            assert.ok(tf.abs(tf.sub(a!, b!)).max().dataSync()[0]! > 1e-4, 'the label does not reach D');
          }
        });
      });
    }
  }

  it("the 'resize' generator and the 'batch' discriminator build at 32×32×3 with the same shapes", async () => {
    await tf.setBackend('cpu');
    const family = getFamily('cdcgan');
    const config = resolveFamilyConfig(family, { upsampling: 'resize', discriminatorNorm: 'batch' });
    const ctx = context('cdcgan', [32, 32, 3]);
    const generator = family.buildGenerator(config, ctx);
    const classes = generator.layers.map((l) => l.getClassName());
    assert.equal(classes.filter((c) => c === 'UpSampling2D').length, 3);
    assert.ok(!classes.includes('Conv2DTranspose'));
    assert.deepEqual(generator.outputs[0]!.shape, [null, 32, 32, 3]);
    const discriminator = family.buildDiscriminator(config, ctx);
    // No norm on the first conv, as in the DCGAN paper.
    assert.deepEqual(discriminator.layers.filter((l) => l.getClassName() === 'BatchNormalization').map((l) => l.name), ['d_bn_1', 'd_bn_2']);
  });

  for (const imageShape of [[30, 30, 1], [4, 4, 1], [28, 14, 1], [100, 100, 3]] as Shape[]) {
    it(`refuses ${imageShape.join('×')} images with a RangeError naming the shape and what is allowed`, async () => {
      await tf.setBackend('cpu');
      for (const name of ['dcgan', 'cdcgan']) {
        const family = getFamily(name);
        const pattern = new RegExp(`family '${name}' cannot build ${imageShape.join('×')} images: .*base of 4\\.\\.7 doubled`);
        assert.throws(() => family.buildGenerator(resolveFamilyConfig(family), context(name, imageShape)), (e: unknown) => e instanceof RangeError && pattern.test(e.message));
        assert.throws(() => family.buildDiscriminator(resolveFamilyConfig(family), context(name, imageShape)), (e: unknown) => e instanceof RangeError && pattern.test(e.message));
      }
    });
  }

  it('checks config values by name: unions, integer widths, slopes; cdcgan needs labels', async () => {
    await tf.setBackend('cpu');
    const dcgan = getFamily('dcgan');
    const ctx = context('dcgan', [28, 28, 1]);
    const build = (overrides: Record<string, unknown>) => dcgan.buildGenerator(resolveFamilyConfig(dcgan, overrides), ctx);
    assert.throws(() => build({ upsampling: 'bilinear' }), /'upsampling' must be 'transpose' or 'resize', got "bilinear"/);
    assert.throws(() => dcgan.buildDiscriminator(resolveFamilyConfig(dcgan, { discriminatorNorm: 'spectral' }), ctx), /'discriminatorNorm' must be 'none', 'batch' or 'layer', got "spectral"/);
    assert.throws(() => build({ generatorChannels: 0 }), (e: unknown) => e instanceof RangeError && /'generatorChannels' must be an integer ≥ 1, got 0/.test(e.message));
    assert.throws(() => build({ kernelSize: 2.5 }), /'kernelSize' must be an integer ≥ 1, got 2.5/);
    assert.throws(() => build({ batchNormMomentum: 1 }), /'batchNormMomentum' must be in \[0, 1\), got 1/);
    assert.throws(() => build({ kernelSize: '4' }), TypeError);
    assert.deepEqual(Object.keys(getFamily('cdcgan').defaults), [...Object.keys(dcgan.defaults), 'embeddingDim']);
    assert.ok(Object.isFrozen(dcgan.defaults) && Object.isFrozen(getFamily('cdcgan').defaults));
    const cdcgan = getFamily('cdcgan');
    const unlabelled: BuildContext = { ...ctx, numClasses: null };
    assert.throws(() => cdcgan.buildGenerator(resolveFamilyConfig(cdcgan), unlabelled), /'cdcgan' is conditional and needs a labelled dataset/);
    assert.throws(() => cdcgan.buildDiscriminator(resolveFamilyConfig(cdcgan), unlabelled), /'cdcgan' is conditional and needs a labelled dataset/);
  });

  let mnist: Dataset | undefined;
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const name of ['dcgan', 'cdcgan']) {
      it(`${name} on ${backend}: D step moves only D, G step moves only G (BN statistics included), no tensor leak`, async () => {
        if (backend === 'wasm') {
          const selected = await selectBackend({ prefer: 'wasm' });
          assert.equal(selected.name, 'wasm', 'the wasm backend must start here');
        } else {
          await tf.setBackend('cpu');
        }
        mnist ??= await mnistSubset(64);
        const family = getFamily(name);
        const ctx = context(name, [28, 28, 1]);
        const pair = buildGanPair(family, resolveFamilyConfig(family, SMALL), ctx);
        const stepper = new GanStepper({ ...pair, numClasses: ctx.numClasses, latentDim: ctx.latentDim, loss: 'non-saturating',
          learningRateGenerator: 1e-3, learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 3 });
        const batch = 4;
        const real = tf.tensor4d(mnist.images.subarray(0, batch * 784), [batch, 28, 28, 1]);
        const labels = family.conditional ? tf.tensor2d(mnist.labels!.subarray(0, batch), [batch, 1], 'int32') : null;
        const iterate = (i: number) => {
          stepper.trainDiscriminatorStep(real, labels, 2 * i);
          stepper.trainGeneratorStep(batch, 2 * i + 1);
        };
        try {
          iterate(0); // Adam creates its moment variables on the first update
          const statistics = (model: tf.LayersModel) => model.weights.flatMap((w, i) => (w.trainable ? [] : [i]));
          const gStats = statistics(pair.generator);
          const dStats = statistics(pair.discriminator);
          assert.ok(gStats.length >= 4 && dStats.length >= 2, 'both sides have BatchNorm moving statistics to check');

          const g0 = snapshotWeights(pair.generator);
          const d0 = snapshotWeights(pair.discriminator);
          const d = stepper.trainDiscriminatorStep(real, labels, 100);
          assert.ok([d.dLoss, d.dReal, d.dFake].every(Number.isFinite), JSON.stringify(d));
          assert.ok(sameBits(snapshotWeights(pair.generator), g0), 'the D step changed generator weights or BN statistics');
          const d1 = snapshotWeights(pair.discriminator);
          assert.ok(!sameBits(d1, d0), 'the D step did not move the discriminator');
          for (const i of dStats) assert.ok(!sameBits([d1[i]!], [d0[i]!]), `D statistic ${pair.discriminator.weights[i]!.name} did not move in D's step`);

          const g = stepper.trainGeneratorStep(batch, 101);
          assert.ok(Number.isFinite(g.gLoss));
          assert.ok(sameBits(snapshotWeights(pair.discriminator), d1), "the G step changed discriminator weights or BN statistics");
          const g1 = snapshotWeights(pair.generator);
          pair.generator.weights.forEach((w, i) => {
            assert.ok(!sameBits([g1[i]!], [g0[i]!]), `generator ${w.trainable ? 'weight' : 'statistic'} ${w.name} did not move in G's step`);
          });

          const tensors = tf.memory().numTensors;
          for (let i = 1; i <= 2; i++) iterate(i);
          assert.equal(tf.memory().numTensors, tensors, 'tensors leaked across training steps');
        } finally {
          stepper.dispose();
          real.dispose();
          labels?.dispose();
          pair.generator.dispose();
          pair.discriminator.dispose();
        }
      });
    }
  }

  it('`ganforge train --help` lists both families with their summaries', async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => { lines.push(args.join(' ')); };
    try {
      assert.equal(await trainCommand.run(['--help']), 0);
    } finally {
      console.log = log;
    }
    const help = lines.join('\n');
    for (const name of ['dcgan', 'cdcgan']) assert.ok(help.includes(`${name} (${getFamily(name).summary})`), `help lacks ${name}:\n${help}`);
  });
});

function pick(config: object, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (config as Record<string, unknown>)[k]]));
}
