// The adversarial losses, the optimizers and the learning-rate schedules against hand computations: each loss's D and
// G value on fixed logits (label smoothing's real target included), one and two steps of each optimizer against the
// update rule written out in float64 (the second after setLearningRate, so the new rate and the kept state both show),
// and every schedule form's factor and parse error. Optimizers run on wasm (where Adam is ganforge's fused kernel) and
// on cpu (tfjs's own update).

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../../common/errors.ts';
import { selectBackend } from '../../train/backend.ts';
import { GanStepper } from '../../train/gan-stepper.ts';
import { getLoss, LOSS_NAMES } from '../../train/losses/registry.ts';
import type { BuildContext } from '../../train/models/family.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import type { OptimizerSettings } from '../../train/optimizers/optimizer.ts';
import { getOptimizer, OPTIMIZER_NAMES } from '../../train/optimizers/registry.ts';
import { formatSchedule, parseSchedule, scheduleFactor } from '../../train/optimizers/schedule.ts';

const REAL = [2, -1, 0.5, 0];
const FAKE = [-3, 1, 0, 0.25];
const softplus = (x: number) => Math.log1p(Math.exp(x));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** D and G loss values of `name` on the fixed logits. */
function lossValues(name: string, realTarget = 1): { d: number; g: number } {
  const loss = getLoss(name);
  return tf.tidy(() => {
    const real = tf.tensor2d(REAL, [REAL.length, 1]);
    const fake = tf.tensor2d(FAKE, [FAKE.length, 1]);
    return { d: loss.discriminatorLoss(real, fake, { realTarget }).dataSync()[0]!, g: loss.generatorLoss(fake).dataSync()[0]! };
  });
}

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} (± ${tolerance})`);
}

describe('adversarial losses on fixed logits', () => {
  before(async () => { await selectBackend({ prefer: 'wasm' }); });

  it('registers non-saturating, minimax, wasserstein and hinge; an unknown name lists them', () => {
    assert.deepEqual([...LOSS_NAMES].sort(), ['hinge', 'minimax', 'non-saturating', 'wasserstein']);
    assert.throws(() => getLoss('lsgan'), (e: unknown) => e instanceof InvalidParameterError && /allowed: non-saturating, minimax, wasserstein, hinge/.test(e.message));
  });

  // BCE on logits: −log σ(l) = softplus(−l), −log(1 − σ(l)) = softplus(l).
  const bceD = (t: number) => 0.5 * mean(REAL.map((l) => t * softplus(-l) + (1 - t) * softplus(l))) + 0.5 * mean(FAKE.map(softplus));

  it('non-saturating: D = ½·BCE(real → 1) + ½·BCE(fake → 0), G = −mean log σ(fake)', () => {
    const { d, g } = lossValues('non-saturating');
    close(d, bceD(1), 1e-6, 'D');
    close(g, mean(FAKE.map((l) => -Math.log(1 / (1 + Math.exp(-l))))), 1e-6, 'G');
  });

  it('minimax: the same D, G = mean log(1 − σ(fake)) (negative, saturating)', () => {
    const { d, g } = lossValues('minimax');
    close(d, bceD(1), 1e-6, 'D');
    close(g, mean(FAKE.map((l) => Math.log(1 - 1 / (1 + Math.exp(-l))))), 1e-6, 'G');
    assert.ok(g < 0);
  });

  it("label smoothing's realTarget 0.9: D's real term is BCE against 0.9; the fake term and G are unchanged", () => {
    for (const name of ['non-saturating', 'minimax']) {
      const smoothed = lossValues(name, 0.9);
      close(smoothed.d, bceD(0.9), 1e-6, `${name} D, target 0.9`);
      assert.ok(Math.abs(smoothed.d - bceD(1)) > 1e-3, 'the target changes the value');
      close(smoothed.g, lossValues(name).g, 0, `${name} G`);
    }
  });

  it('wasserstein: D = mean C(fake) − mean C(real), G = −mean C(fake)', () => {
    const { d, g } = lossValues('wasserstein');
    close(d, mean(FAKE) - mean(REAL), 1e-6, 'D');
    close(g, -mean(FAKE), 1e-6, 'G');
  });

  it('hinge: D = mean relu(1 − C(real)) + mean relu(1 + C(fake)), G = −mean C(fake)', () => {
    const { d, g } = lossValues('hinge');
    close(d, mean(REAL.map((l) => Math.max(0, 1 - l))) + mean(FAKE.map((l) => Math.max(0, 1 + l))), 1e-6, 'D');
    close(g, -mean(FAKE), 1e-6, 'G');
  });

  it('label smoothing is refused for critic losses and accepted for BCE ones', () => {
    const family = getFamily('mlp');
    const config = resolveFamilyConfig(family, { generatorUnits: [8], discriminatorUnits: [8] });
    const context: BuildContext = { imageShape: [28, 28, 1], numClasses: null, latentDim: 4, seed: 1 };
    const pair = { generator: family.buildGenerator(config, context), discriminator: family.buildDiscriminator(config, context) };
    const options = { ...pair, numClasses: null, latentDim: 4, learningRateGenerator: 1e-3, learningRateDiscriminator: 1e-3, beta1: 0.5, seed: 0, labelSmoothing: 0.1 };
    for (const loss of ['wasserstein', 'hinge']) {
      assert.throws(() => new GanStepper({ ...options, loss }), (e: unknown) => e instanceof InvalidParameterError && /label smoothing applies to losses on probabilities/.test(e.message));
    }
    new GanStepper({ ...options, loss: 'non-saturating' }).dispose();
    pair.generator.dispose();
    pair.discriminator.dispose();
  });
});

const W0 = [0.5, -1, 2, 0.25];
const G1 = [0.1, -0.2, 0.3, 0.05];
const G2 = [-0.3, 0.1, 0.2, 0.4];
const LR1 = 0.1;
const LR2 = 0.03;

/** One step at LR1 with G1, setLearningRate(LR2), one step with G2: the weights after each, as the optimizer computed them. */
function twoSteps(name: string, settings: Partial<OptimizerSettings>): [number[], number[]] {
  const kind = getOptimizer(name);
  const optimizer = kind.create({ learningRate: LR1, beta1: 0.5, beta2: 0.9, momentum: 0, rho: 0.9, epsilon: 1e-7, ...settings });
  // In a tidy: the initial tensor goes, the variable keeps the data.
  const w = tf.tidy(() => tf.variable(tf.tensor1d(W0), true, `w_${name}_${Math.random()}`));
  const step = (g: number[]) => {
    tf.tidy(() => optimizer.applyGradients({ [w.name]: tf.tensor1d(g) }));
    return [...w.dataSync()];
  };
  const after1 = step(G1);
  kind.setLearningRate(optimizer, LR2);
  const after2 = step(G2);
  optimizer.dispose();
  w.dispose();
  return [after1, after2];
}

/** The update rules written out (float64), for one and then two steps. */
const HAND: Record<string, { settings: Partial<OptimizerSettings>; rule: () => [number[], number[]] }> = {
  adam: {
    settings: {},
    rule: () => {
      const [b1, b2, eps] = [0.5, 0.9, 1e-7];
      const m1 = G1.map((g) => (1 - b1) * g);
      const v1 = G1.map((g) => (1 - b2) * g * g);
      const w1 = W0.map((w, i) => w - (LR1 * m1[i]! / (1 - b1)) / (Math.sqrt(v1[i]! / (1 - b2)) + eps));
      const m2 = G2.map((g, i) => b1 * m1[i]! + (1 - b1) * g);
      const v2 = G2.map((g, i) => b2 * v1[i]! + (1 - b2) * g * g);
      const w2 = w1.map((w, i) => w - (LR2 * m2[i]! / (1 - b1 ** 2)) / (Math.sqrt(v2[i]! / (1 - b2 ** 2)) + eps));
      return [w1, w2];
    },
  },
  rmsprop: {
    settings: { momentum: 0.5 },
    rule: () => {
      const [rho, mu, eps] = [0.9, 0.5, 1e-7];
      const s1 = G1.map((g) => (1 - rho) * g * g);
      const p1 = G1.map((g, i) => (LR1 * g) / Math.sqrt(s1[i]! + eps));
      const w1 = W0.map((w, i) => w - p1[i]!);
      const s2 = G2.map((g, i) => rho * s1[i]! + (1 - rho) * g * g);
      const p2 = G2.map((g, i) => mu * p1[i]! + (LR2 * g) / Math.sqrt(s2[i]! + eps));
      return [w1, w1.map((w, i) => w - p2[i]!)];
    },
  },
  sgd: {
    settings: {},
    rule: () => {
      const w1 = W0.map((w, i) => w - LR1 * G1[i]!);
      return [w1, w1.map((w, i) => w - LR2 * G2[i]!)];
    },
  },
  momentum: {
    settings: { momentum: 0.9 },
    rule: () => {
      const w1 = W0.map((w, i) => w - LR1 * G1[i]!);
      const a2 = G2.map((g, i) => 0.9 * G1[i]! + g);
      return [w1, w1.map((w, i) => w - LR2 * a2[i]!)];
    },
  },
};

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`optimizers on ${backend}`, () => {
    before(async () => {
      const selected = await selectBackend({ prefer: backend });
      assert.equal(selected.name, backend);
    });

    it('registers adam, rmsprop and sgd', () => {
      assert.deepEqual([...OPTIMIZER_NAMES].sort(), ['adam', 'rmsprop', 'sgd']);
    });

    for (const [label, { settings, rule }] of Object.entries(HAND)) {
      it(`${label}: one step moves the weights as the hand-computed update; setLearningRate changes the next step and keeps the state`, () => {
        const name = label === 'momentum' ? 'sgd' : label;
        const before = tf.memory().numTensors;
        const [after1, after2] = twoSteps(name, settings);
        // tfjs 4.22's MomentumOptimizer.dispose frees its momentum scalar but not the −lr scalar SGD keeps (it overrides
        // SGDOptimizer.dispose without calling it): one scalar per optimizer, not per step.
        assert.equal(tf.memory().numTensors, before + (label === 'momentum' ? 1 : 0), 'no tensor left behind');
        const [hand1, hand2] = rule();
        // float32 weights of order 1: 1e-6 is a few ulps.
        for (let i = 0; i < W0.length; i++) {
          close(after1[i]!, hand1[i]!, 1e-6, `${label} step 1, w[${i}]`);
          close(after2[i]!, hand2[i]!, 1e-6, `${label} step 2, w[${i}]`);
        }
        // Had the rate not changed, step 2 would land elsewhere; had the state been reset, elsewhere again.
        const [, unchanged] = (() => {
          const kind = getOptimizer(name);
          const o = kind.create({ learningRate: LR1, beta1: 0.5, beta2: 0.9, momentum: 0, rho: 0.9, epsilon: 1e-7, ...settings });
          const w = tf.tidy(() => tf.variable(tf.tensor1d(W0), true, `w_${label}_same_${Math.random()}`));
          tf.tidy(() => o.applyGradients({ [w.name]: tf.tensor1d(G1) }));
          tf.tidy(() => o.applyGradients({ [w.name]: tf.tensor1d(G2) }));
          const out = [...w.dataSync()];
          o.dispose();
          w.dispose();
          return [null, out];
        })();
        assert.ok(unchanged.some((v, i) => Math.abs(v - after2[i]!) > 1e-4), 'the new learning rate changed step 2');
        if (label !== 'sgd') {
          const fresh = hand1.map((w, i) => w - (name === 'adam' ? LR2 * Math.sign(G2[i]!) : name === 'sgd' ? LR2 * G2[i]! : (LR2 * G2[i]!) / Math.sqrt(0.1 * G2[i]! ** 2 + 1e-7)));
          assert.ok(fresh.some((v, i) => Math.abs(v - after2[i]!) > 1e-4), 'step 2 used the state of step 1');
        }
      });
    }
  });
}

describe('learning-rate schedules', () => {
  it('parses every form, trimmed, and formats back to the same text', () => {
    assert.deepEqual(parseSchedule(' cosine '), { kind: 'cosine', warmupSteps: 0 });
    assert.deepEqual(parseSchedule('warmup:10,step:100:0.5'), { kind: 'step', warmupSteps: 10, every: 100, gamma: 0.5 });
    for (const text of ['constant', 'linear', 'cosine', 'step:3:0.5', 'warmup:4,constant', 'warmup:2,linear', 'warmup:2,step:5:0.1']) {
      assert.equal(formatSchedule(parseSchedule(text)), text);
    }
  });

  it('refuses malformed schedules with INVALID_PARAMETER naming the text and the allowed forms', () => {
    for (const text of ['', 'bogus', 'step:0:0.5', 'step:10:0', 'step:10:1.5', 'step:10', 'warmup:0,constant', 'warmup:3', 'linear,warmup:3', 'warmup:2,']) {
      assert.throws(() => parseSchedule(text), (e: unknown) =>
        e instanceof InvalidParameterError && e.parameter === 'lrSchedule' && e.message.includes(`'${text}'`) && e.message.includes('allowed: constant | linear | cosine | step:EVERY:GAMMA'),
      `'${text}' should be refused`);
    }
  });

  it('gives the factor of each form at chosen steps', () => {
    const factors = (text: string, total: number, steps: number[]) => steps.map((s) => Math.round(scheduleFactor(parseSchedule(text), s, total) * 1e9) / 1e9);
    assert.deepEqual(factors('constant', 10, [0, 5, 10, 50]), [1, 1, 1, 1]);
    assert.deepEqual(factors('linear', 10, [0, 5, 9, 10, 20]), [1, 0.5, 0.1, 0, 0]);
    assert.deepEqual(factors('cosine', 10, [0, 5, 10]), [1, 0.5, 0]);
    close(scheduleFactor(parseSchedule('cosine'), 2, 10), 0.5 * (1 + Math.cos(0.2 * Math.PI)), 1e-12, 'cosine at 2/10');
    assert.deepEqual(factors('step:3:0.5', 100, [0, 2, 3, 5, 6, 9]), [1, 1, 0.5, 0.5, 0.25, 0.125]);
    assert.deepEqual(factors('warmup:4,constant', 10, [0, 1, 2, 3, 4, 100]), [0.25, 0.5, 0.75, 1, 1, 1]);
    // Warm-up, then the decay runs over the remaining 10 steps.
    assert.deepEqual(factors('warmup:2,linear', 12, [0, 1, 2, 7, 12]), [0.5, 1, 1, 0.5, 0]);
    assert.deepEqual(factors('warmup:2,step:5:0.1', 100, [1, 6, 7]), [1, 1, 0.1]);
  });
});
