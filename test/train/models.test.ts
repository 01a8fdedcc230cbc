// Each GAN family's networks: shapes from the dataset, only exportable generator layers, seeded weights, registry errors.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { GENERATOR_LAYERS, LABEL_INPUT, LATENT_INPUT, type BuildContext } from '../../train/models/family.ts';
import { FAMILIES, getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { useBestBackend } from './helpers.ts';

describe('GAN families', () => {
  before(async () => { await useBestBackend(); });

  for (const [name, family] of Object.entries(FAMILIES)) {
    for (const imageShape of [[28, 28, 1], [12, 10, 3]] as [number, number, number][]) {
      it(`${name}: generator and discriminator shapes for ${imageShape.join('×')} images`, () => {
        const context: BuildContext = { imageShape, numClasses: family.conditional ? 7 : null, latentDim: 16, seed: 3 };
        const config = resolveFamilyConfig(family);
        const generator = family.buildGenerator(config, context);
        const discriminator = family.buildDiscriminator(config, context);
        assert.deepEqual(generator.inputNames, family.conditional ? [LATENT_INPUT, LABEL_INPUT] : [LATENT_INPUT]);
        tf.tidy(() => {
          const z = tf.randomNormal([5, 16]);
          const labels = tf.tensor2d([0, 1, 6, 3, 2], [5, 1], 'int32');
          const images = generator.predict(family.conditional ? [z, labels] : z) as tf.Tensor;
          assert.deepEqual(images.shape, [5, ...imageShape]);
          const [min, max] = [images.min().dataSync()[0]!, images.max().dataSync()[0]!];
          assert.ok(min >= -1 && max <= 1, `tanh output in [-1, 1], got [${min}, ${max}]`);
          if (family.auxiliaryClassifier === true) {
            // AC-GAN: D sees the image alone and answers with a real/fake logit and class logits.
            assert.deepEqual(discriminator.inputNames, ['image']);
            const [logits, classLogits] = discriminator.predict(images) as tf.Tensor[];
            assert.deepEqual(logits!.shape, [5, 1]);
            assert.deepEqual(classLogits!.shape, [5, 7]);
          } else if (family.objective === 'variational') {
            // A VAE's discriminator slot holds its encoder: image (+ label) → [μ, log σ²], one row of latentDim each.
            const [mean, logVariance] = discriminator.predict(family.conditional ? [images, labels] : images) as tf.Tensor[];
            assert.deepEqual(mean!.shape, [5, 16]);
            assert.deepEqual(logVariance!.shape, [5, 16]);
          } else {
            const logits = discriminator.predict(family.conditional ? [images, labels] : images) as tf.Tensor;
            assert.deepEqual(logits.shape, [5, 1]);
          }
        });
        for (const layer of generator.layers) {
          assert.ok(GENERATOR_LAYERS.includes(layer.getClassName()), `${layer.name} is a ${layer.getClassName()}, which the exporter cannot map`);
          if (layer.getClassName() === 'LeakyReLU') assert.equal((layer.getConfig() as { alpha: number }).alpha, 0.2);
        }
      });
    }

    it(`${name}: weights depend on the seed only`, () => {
      const context = (seed: number): BuildContext => ({ imageShape: [8, 8, 1], numClasses: family.conditional ? 3 : null, latentDim: 4, seed });
      const config = resolveFamilyConfig(family);
      const w = (seed: number) => family.buildGenerator(config, context(seed)).getWeights()[0]!.dataSync();
      assert.deepEqual(w(1), w(1));
      assert.notDeepEqual(w(1), w(2));
    });
  }

  for (const name of ['cgan', 'acgan']) {
    it(`${name} refuses an unlabelled dataset`, () => {
      const family = getFamily(name);
      const context: BuildContext = { imageShape: [8, 8, 1], numClasses: null, latentDim: 4, seed: 0 };
      assert.throws(() => family.buildGenerator(resolveFamilyConfig(family), context), /needs a labelled dataset/);
      assert.throws(() => family.buildDiscriminator(resolveFamilyConfig(family), context), /needs a labelled dataset/);
    });
  }

  it('unknown families throw UNKNOWN_FAMILY listing the valid names', () => {
    assert.throws(() => getFamily('dcgann'), (e: unknown) =>
      e instanceof GanforgeError && e.code === 'UNKNOWN_FAMILY' && e.message.includes('mlp, cgan, acgan'));
    assert.throws(() => getFamily('toString'), (e: unknown) => e instanceof GanforgeError && e.code === 'UNKNOWN_FAMILY');
    assert.ok(Object.isFrozen(FAMILIES));
  });

  it('config overrides are checked by name and type', () => {
    const mlp = getFamily('mlp');
    assert.deepEqual(resolveFamilyConfig(mlp, { leakySlope: 0.1 }).leakySlope, 0.1);
    assert.throws(() => resolveFamilyConfig(mlp, { leakyslope: 0.1 }), RangeError);
    assert.throws(() => resolveFamilyConfig(mlp, { generatorUnits: 5 }), TypeError);
    assert.deepEqual((mlp.defaults as { generatorUnits: number[] }).generatorUnits, [256, 512, 1024], 'defaults are not mutated');
  });
});
