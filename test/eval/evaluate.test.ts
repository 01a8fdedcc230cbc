import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../../train/backend.ts';
import { loadDataset } from '../../train/dataset/registry.ts';
import { loadOrTrainClassifier, type Judge } from '../../eval/classifier.ts';
import { evaluateGenerator, measureSamples } from '../../eval/evaluate.ts';
import { SeededRandom } from '../../common/random.ts';

const BUNDLED_MODEL = 'models/default.onnx';

describe('eval metrics', () => {
  let judge: Judge;
  let real: { images: Float32Array; labels: number[] };
  let referenceFit: ReturnType<typeof measureSamples>['frechetFit'];
  before(async () => {
    await selectBackend();
    judge = await loadOrTrainClassifier();
    const test = await loadDataset({ dataset: 'mnist', split: 'test', limit: 2000 });
    real = { images: test.images, labels: Array.from(test.labels!) };
    referenceFit = measureSamples(judge, real.images, real.labels, 1, null).frechetFit;
  });

  it('the bundled judge is the one its record describes (≥ 98% on MNIST test)', () => {
    assert.ok(judge.testAccuracy >= 0.98, `judge accuracy ${judge.testAccuracy}`);
  });

  it('scores real MNIST images as near-perfect', async () => {
    const train = await loadDataset({ dataset: 'mnist', split: 'train', limit: 2000 });
    const m = measureSamples(judge, train.images, Array.from(train.labels!), 1, referenceFit);
    assert.ok(m.conditionalAccuracy! > 0.97, `accuracy ${m.conditionalAccuracy}`);
    assert.ok(m.classCoverage > 0.99, `coverage ${m.classCoverage}`);
    assert.ok(m.meanConfidence > 0.95, `confidence ${m.meanConfidence}`);
    // 2,000 vs 2,000 samples in 128 dimensions: the estimate carries a sample-size bias of ~15 even for one distribution.
    assert.ok(m.frechetDistance < 30, `Fréchet distance train vs test ${m.frechetDistance}`);
    assert.equal(m.perClassAccuracy!.length, 10);
  });

  it('scores noise as bad: chance accuracy, far from the data', () => {
    const random = new SeededRandom(5);
    const noise = Float32Array.from({ length: 2000 * 784 }, () => random.nextOpenUnit() * 2 - 1);
    const m = measureSamples(judge, noise, real.labels, 1, referenceFit);
    assert.ok(m.conditionalAccuracy! < 0.3, `accuracy on noise ${m.conditionalAccuracy}`);
    assert.ok(m.frechetDistance > 100, `Fréchet distance of noise ${m.frechetDistance}`);
    assert.ok(m.classCoverage < 0.5, `noise collapses onto few classes: ${m.classCoverage}`);
  });

  it('measures the bundled default model: conditional, and sharper under truncation', async () => {
    const report = await evaluateGenerator({ modelPath: BUNDLED_MODEL, truncations: [1, 0.5], samplesPerClass: 30 });
    const [plain, truncated] = report.results;
    // The bundled model's bar (README): ≥ 95% at truncation 1 over 10,000 samples; 300 samples here, so a little slack.
    assert.ok(plain!.conditionalAccuracy! > 0.92, `conditional accuracy ${plain!.conditionalAccuracy}`);
    assert.ok(truncated!.conditionalAccuracy! >= plain!.conditionalAccuracy!, 'truncation 0.5 should not lower conditional accuracy');
    assert.ok(truncated!.meanConfidence >= plain!.meanConfidence - 0.01, 'truncation should not lower confidence');
    assert.ok(truncated!.diversity < plain!.diversity, 'truncation lowers diversity');
  });
});
