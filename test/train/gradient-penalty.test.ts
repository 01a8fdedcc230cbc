// The WGAN-GP gradient penalty and WGAN weight clipping, on every backend that loads here (wasm and cpu; tensorflow
// too where tfjs-node is installed). The penalty's gradient with respect to D's weights (a second-order gradient:
// tf.grad inside tf.variableGrads) is checked against central differences of the penalty itself, for the critics the
// families build (MLP, conditional MLP with projection, DCGAN at 28×28 with LayerNorm and without); the per-sample norm
// against critics whose input gradient is known in closed form; and the trainer's step against λ = 0, to show the
// penalty reaches D's weights. Then short real trainings with --preset wgan / wgan-gp, the CLI, and an export.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../../common/errors.ts';
import { SeededRandom } from '../../common/random.ts';
import { exportRun } from '../../export/export-run.ts';
import { selectBackend, type BackendName } from '../../train/backend.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { GanStepper, streamSeed } from '../../train/gan-stepper.ts';
import { wassersteinLoss } from '../../train/losses/wasserstein.ts';
import type { BuildContext } from '../../train/models/family.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { criticGradientNorms, gradientPenalty, gradientPenaltyTechnique, interpolate, interpolationWeights } from '../../train/techniques/gradient-penalty.ts';
import { registerSecondOrderGradients } from '../../train/techniques/second-order-gradients.ts';
import type { PenaltyInput, TechniqueContext } from '../../train/techniques/technique.ts';
import { clipWeights } from '../../train/techniques/weight-clipping.ts';
import { trainGan } from '../../train/trainer.ts';
import { mnistSubset, sameBits, snapshotWeights, tempDir } from './helpers.ts';

const IMAGE: [number, number, number] = [28, 28, 1];
const LAMBDA = 10;

interface CriticCase {
  label: string;
  family: string;
  config: Record<string, unknown>;
  /**
   * Central-difference step (the largest is 4×). A conv weight is shared by every position, so a step moves thousands of LeakyReLU inputs
   * and some cross zero (those weights are skipped): the conv critics take a smaller one. Default 2.5e-4.
   */
  step?: number;
  /**
   * Factor on every conv kernel before the check. DCGAN's N(0, 0.02) init leaves LeakyReLU inputs within ~0.04 of
   * zero, where even a 1e-4 step flips some; ×15 (std 0.3) keeps most of them clear of the kink. Default 1.
   */
  convScale?: number;
}

/** The critics the numerical check covers: each family's discriminator, dropout off (its masks are random). */
const CRITICS: CriticCase[] = [
  { label: 'mlp (dense + LeakyReLU)', family: 'mlp', config: { discriminatorUnits: [32, 16] }, step: 2.5e-4 },
  { label: 'cgan (dense + LeakyReLU + dropout, projection), dropout off', family: 'cgan', config: { discriminatorUnits: [32, 16], discriminatorDropout: 0 }, step: 2.5e-4 },
  // The DCGAN critic's architecture at 28×28 (conv k4 s2 → LeakyReLU → conv k4 s2 → [norm] → LeakyReLU → dense), narrow.
  { label: "dcgan 28×28, discriminatorNorm 'none'", family: 'dcgan', config: { discriminatorNorm: 'none', discriminatorChannels: 8 }, step: 1e-4, convScale: 15 },
  { label: "dcgan 28×28, discriminatorNorm 'layer'", family: 'dcgan', config: { discriminatorNorm: 'layer', discriminatorChannels: 8 }, step: 1e-4, convScale: 15 },
];

/** Backends to run on: every one selectBackend can load here, each exactly (no fallback). */
async function loadableBackends(): Promise<BackendName[]> {
  const names: BackendName[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    const selected = await selectBackend({ prefer: name });
    if (selected.name === name) names.push(name);
  }
  return names;
}

function context(numClasses: number | null, seed = 7): BuildContext {
  return { imageShape: IMAGE, numClasses, latentDim: 8, seed };
}

function techniqueContext(discriminator: tf.LayersModel, seed: number): TechniqueContext {
  return {
    generator: discriminator, discriminator, generatorVariables: [], numClasses: null, loss: wassersteinLoss, seed,
    discriminatorVariables: discriminator.trainableWeights.map((w) => w.read() as tf.Variable),
  };
}

/** The trainer's critic closure: D in training mode, with the label as its second input when conditional. */
function criticOf(discriminator: tf.LayersModel) {
  return (images: tf.Tensor, labels: tf.Tensor | null) =>
    discriminator.apply(labels ? [images, labels] : images, { training: true }) as tf.Tensor;
}

/** Seeded images in [-1, 1). */
function images(count: number, seed: number): tf.Tensor4D {
  const random = new SeededRandom(seed);
  return tf.tensor4d(Float32Array.from({ length: count * IMAGE[0] * IMAGE[1] * IMAGE[2] }, () => 2 * random.nextOpenUnit() - 1), [count, ...IMAGE]);
}

interface Problem {
  discriminator: tf.LayersModel;
  variables: tf.Variable[];
  input: PenaltyInput;
  /** Penalty value (λ-weighted) at the current weights. */
  value(): number;
  dispose(): void;
}

/** A critic of `c` with fixed real/fake batches; its last layer scaled so ‖∇C‖ ≈ 2 and the penalty's gradient is O(1). */
function problem(c: CriticCase, seed: number): Problem {
  const family = getFamily(c.family);
  const numClasses = family.conditional ? 10 : null;
  const discriminator = family.buildDiscriminator(resolveFamilyConfig(family, c.config), context(numClasses, seed));
  const variables = discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
  const real = images(3, seed + 1);
  const fake = tf.tidy(() => images(3, seed + 2).mul(0.5));
  const labels = numClasses === null ? null : tf.tensor2d([3, 0, 7], [3, 1], 'int32');
  const input: PenaltyInput = { critic: criticOf(discriminator), real, fake, realLabels: labels, fakeLabels: labels, key: 5 };
  for (const layer of discriminator.layers.filter((l) => l.getClassName() === 'Conv2D')) {
    const scaledKernel = layer.getWeights().map((w, i) => (i === 0 ? tf.mul(w, c.convScale ?? 1) : w.clone()));
    layer.setWeights(scaledKernel);
    tf.dispose(scaledKernel);
  }
  // The freshly initialised DCGAN critic has ‖∇C‖ ≈ 0.002: scaling its output layer (the network is linear in it)
  // moves the norms to ≈ 2, where (‖g‖ − 1)² has a gradient well above float32's noise.
  const norm = tf.tidy(() => gradientPenalty(1, seed, input).metrics.criticGradientNorm!.dataSync()[0]!);
  const logit = discriminator.getLayer('d_logit');
  const scaled = logit.getWeights().map((w, i) => (i === 0 ? tf.mul(w, 2 / norm) : w.clone()));
  logit.setWeights(scaled);
  tf.dispose(scaled);
  return {
    discriminator, variables, input,
    value: () => tf.tidy(() => gradientPenalty(LAMBDA, seed, input).loss.dataSync()[0]!),
    dispose: () => { discriminator.dispose(); tf.dispose([real, fake, labels ?? []]); },
  };
}

/** The signs of every LeakyReLU's input at the interpolates (a central difference across a kink would be meaningless). */
function activationPattern(p: Problem, seed: number): Uint8Array {
  const leaky = p.discriminator.layers.filter((l) => l.getClassName() === 'LeakyReLU');
  const probe = tf.model({ inputs: p.discriminator.inputs, outputs: leaky.map((l) => l.input as tf.SymbolicTensor) });
  return tf.tidy(() => {
    const mixed = interpolate(p.input.real, p.input.fake, interpolationWeights(seed, p.input.key, 3));
    const out = probe.predict(p.input.realLabels ? [mixed, p.input.realLabels] : mixed);
    const outs = Array.isArray(out) ? out : [out];
    return Uint8Array.from(outs.flatMap((o) => [...o.dataSync()].map((v) => (v > 0 ? 1 : 0))));
  });
}

/**
 * Gradient values per variable; tf.variableGrads omits a variable off the path to the loss (the output bias: ∇_x C does
 * not depend on it), whose gradient is zero.
 */
function gradientValues(variables: tf.Variable[], grads: tf.NamedTensorMap): Float32Array[] {
  return variables.map((v) => (grads[v.name] ? Float32Array.from(grads[v.name]!.dataSync() as Float32Array) : new Float32Array(v.size)));
}

function setElement(v: tf.Variable, index: number, value: number): void {
  const data = Float32Array.from(v.dataSync() as Float32Array);
  data[index] = value;
  tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
}

/** Max |a − b|. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const figures: string[] = [];
let dirs: string[] = [];
let mnist: Dataset | null = null;
before(async () => { mnist = await mnistSubset(256); });
// The measured errors, for the record (numerical-gradient checks, wasm vs cpu, export parity).
after(() => { console.log(figures.join('\n')); });

describe('gradient penalty and weight clipping', () => {
  let backends: BackendName[] = [];
  before(async () => { backends = await loadableBackends(); });
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    dirs = [];
  });

  it('loads wasm and cpu, and Greater gets the zero gradient LeakyReLU\'s double backprop needs', () => {
    assert.ok(backends.includes('wasm') && backends.includes('cpu'), `loadable backends: ${backends.join(', ')}`);
    assert.deepEqual(registerSecondOrderGradients(), [], 'already registered when gradient-penalty.ts was imported');
    const x = tf.tensor1d([-2, 0.5, 3]);
    // d/dx of (dLeakyReLU/dx · x) = slope, piecewise: the second derivative path goes through Greater.
    const second = tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.leakyRelu(u, 0.2).square().sum())(t).sum())(x);
    assert.deepEqual([...second.dataSync()].map((v) => Math.round(v * 1e5) / 1e5), [0.08, 2, 2]); // 2·slope²
    tf.dispose([x, second]);
  });

  for (const backend of ['tensorflow', 'wasm', 'cpu'] as const) {
    describe(`on ${backend}`, () => {
      before(async function () {
        if (!backends.includes(backend)) return;
        await tf.setBackend(backend);
        assert.equal(tf.getBackend(), backend);
      });

      it('per-sample norms: a LeakyReLU-of-linear critic has ‖∇C(x_i)‖ = ‖w‖ or α‖w‖ by the sign of w·x_i; the penalty and its weight gradient match the closed form', (t) => {
        if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
        const alpha = 0.2;
        const shape: [number, number, number] = [4, 3, 2]; // H, W, C: the norm must run over all three
        const critic = tf.sequential({ layers: [
          tf.layers.flatten({ inputShape: shape }),
          tf.layers.dense({ units: 1, useBias: false, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) }),
          tf.layers.leakyReLU({ alpha }),
        ] });
        const w = Float32Array.from(critic.getWeights()[0]!.dataSync() as Float32Array);
        const normW = Math.hypot(...w);
        // Samples ±w/‖w‖ (and scaled): w·x > 0 for samples 0 and 2, < 0 for 1 and 3. real = fake, so x̂ = x whatever ε.
        const signs = [1, -1, 2, -0.5];
        const x = tf.tensor4d(Float32Array.from(signs.flatMap((s) => [...w].map((v) => (s * v) / normW))), [4, ...shape]);
        const slopes = signs.map((s) => (s > 0 ? 1 : alpha));
        const variables = critic.trainableWeights.map((v) => v.read() as tf.Variable);
        const input: PenaltyInput = { critic: criticOf(critic), real: x, fake: x, realLabels: null, fakeLabels: null, key: 1 };
        const before = tf.memory().numTensors;
        const norms = tf.tidy(() => [...criticGradientNorms((im) => critic.apply(im, { training: true }) as tf.Tensor, x).dataSync()]);
        assert.ok(maxAbsDiff(norms, slopes.map((s) => s * normW)) < 1e-5, `norms ${norms.join(', ')} against ${slopes.map((s) => s * normW).join(', ')}`);
        const { value, grads } = tf.variableGrads(() => {
          const result = gradientPenalty(LAMBDA, 0, input);
          const gp = result.metrics.gradientPenalty!.dataSync()[0]!;
          const meanNorm = result.metrics.criticGradientNorm!.dataSync()[0]!;
          assert.ok(Math.abs(gp - slopes.reduce((a, s) => a + (s * normW - 1) ** 2, 0) / 4) < 1e-5);
          assert.ok(Math.abs(meanNorm - slopes.reduce((a, s) => a + s * normW, 0) / 4) < 1e-5);
          return result.loss;
        }, variables);
        // d/dw λ·mean_i (s_i‖w‖ − 1)² = λ·mean_i 2(s_i‖w‖ − 1)·s_i·w/‖w‖
        const coefficient = (LAMBDA * slopes.reduce((a, s) => a + 2 * (s * normW - 1) * s, 0)) / 4 / normW;
        const expected = [...w].map((v) => coefficient * v);
        const got = Object.values(grads)[0]!.dataSync();
        const error = maxAbsDiff(got, expected) / Math.max(...expected.map(Math.abs));
        assert.ok(error < 1e-5, `penalty gradient vs closed form: relative max error ${error}`);
        figures.push(`${backend}: closed-form per-sample critic, penalty gradient relative max error ${error.toExponential(2)}`);
        tf.dispose([value, ...Object.values(grads)]);
        assert.equal(tf.memory().numTensors, before, 'no tensor left behind by the penalty');
        critic.dispose();
        x.dispose();
      });

      it("per-sample norms of a DCGAN critic (LayerNorm) in a batch equal each sample's norm computed alone", (t) => {
        if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
        const family = getFamily('dcgan');
        const d = family.buildDiscriminator(resolveFamilyConfig(family, { discriminatorNorm: 'layer', discriminatorChannels: 8 }), context(null));
        const batch = images(3, 21);
        const critic = (im: tf.Tensor) => d.apply(im, { training: true }) as tf.Tensor;
        const together = tf.tidy(() => [...criticGradientNorms(critic, batch).dataSync()]);
        const alone = [0, 1, 2].map((i) => tf.tidy(() => criticGradientNorms(critic, batch.slice(i, 1)).dataSync()[0]!));
        assert.ok(maxAbsDiff(together, alone) < 1e-5 * Math.max(...alone), `batch ${together.join(', ')} vs alone ${alone.join(', ')}`);
        // Distinct samples have distinct norms, so a norm over the whole batch (or one axis) could not pass this.
        assert.ok(Math.abs(alone[0]! - alone[1]!) > 1e-4 * alone[0]!, `norms ${alone.join(', ')}`);
        d.dispose();
        batch.dispose();
      });

      for (const c of CRITICS) {
        it(`${c.label}: the penalty's gradient over D's weights matches central differences`, (t) => {
          if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
          const seed = 11;
          const p = problem(c, seed);
          const { value, grads } = tf.variableGrads(() => gradientPenalty(LAMBDA, seed, p.input).loss, p.variables);
          const analytic = gradientValues(p.variables, grads);
          tf.dispose([value, ...Object.values(grads)]);
          const scale = Math.max(...analytic.map((g) => Math.max(...g.map(Math.abs))));
          assert.ok(scale > 1e-2, `penalty gradient too small to check (${scale})`);
          const pattern = activationPattern(p, seed);
          const h = c.step ?? 2.5e-4;
          let worst = 0;
          let checked = 0;
          let checkedVariables = 0;
          const random = new SeededRandom(seed);
          for (const [k, v] of p.variables.entries()) {
            const g = analytic[k]!;
            // The largest entry and one random one per variable (biases included: their penalty gradient is ~0 for
            // piecewise-linear critics, and the numerical one must agree).
            let largest = 0;
            for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[largest]!)) largest = i;
            const candidates = [largest, ...Array.from({ length: 9 }, () => Math.floor(random.nextOpenUnit() * g.length))];
            let taken = 0;
            for (const index of candidates) {
              if (taken === 2) break;
              const original = (v.dataSync() as Float32Array)[index]!;
              // Least-squares slope through central differences at ±h, ±2h, ±3h, ±4h: float32 rounding of the penalty
              // (~1e-7 relative) averages down ~5× against a single ±h difference, at the same largest step.
              let numerator = 0;
              let denominator = 0;
              let kink = false;
              for (let k = 1; k <= 4 && !kink; k++) {
                const values = [1, -1].map((sign) => {
                  setElement(v, index, original + sign * k * h);
                  kink ||= maxAbsDiff(activationPattern(p, seed), pattern) > 0;
                  return p.value();
                });
                numerator += k * h * (values[0]! - values[1]!);
                denominator += 2 * (k * h) ** 2;
              }
              setElement(v, index, original);
              if (kink) continue; // a LeakyReLU input changed sign within the steps: not differentiable there
              const numeric = numerator / denominator;
              // Relative to the entry, floored at a tenth of the largest entry: float32 rounding of the penalty
              // (wasm's XNNPACK sums in another order than cpu) bounds what a difference can resolve for tiny entries.
              const error = Math.abs(numeric - g[index]!) / Math.max(Math.abs(g[index]!), 0.1 * scale);
              assert.ok(error < 0.03, `${v.name}[${index}]: numerical ${numeric}, analytic ${g[index]}, relative error ${error}`);
              worst = Math.max(worst, error);
              taken += 1;
              checked += 1;
            }
            if (taken > 0) checkedVariables += 1;
          }
          assert.ok(checkedVariables === p.variables.length && checked >= p.variables.length + 2, `only ${checked} weights of ${checkedVariables}/${p.variables.length} variables could be checked`);
          figures.push(`${backend}: ${c.label}: ${checked} weights, max relative error ${worst.toExponential(2)} (largest |∂P/∂θ| ${scale.toExponential(2)})`);
          p.dispose();
        });
      }

      it('a dropout critic (cgan, rate 0.3): the penalty back-propagates finite, non-zero gradients into every kernel', (t) => {
        if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
        const p = problem({ label: 'cgan dropout', family: 'cgan', config: { discriminatorUnits: [32, 16], discriminatorDropout: 0.3 } }, 13);
        const { value, grads } = tf.variableGrads(() => gradientPenalty(LAMBDA, 13, p.input).loss, p.variables);
        const values = gradientValues(p.variables, grads);
        for (const [i, v] of p.variables.entries()) {
          const g = values[i]!;
          assert.ok(g.every(Number.isFinite), `${v.name}: non-finite gradient`);
          if (v.name.includes('kernel')) assert.ok(g.some((x) => x !== 0), `${v.name}: no gradient from the penalty`);
        }
        tf.dispose([value, ...Object.values(grads)]);
        p.dispose();
      });

      for (const c of [CRITICS[0]!, { ...CRITICS[3]!, config: { discriminatorNorm: 'layer', discriminatorChannels: 8, generatorChannels: 8 } }]) {
        it(`${c.family}: the trainer's D step with λ = 10 moves D by λ·∇(penalty) more than with λ = 0 (SGD, same batch)`, (t) => {
          if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
          const family = getFamily(c.family);
          const config = resolveFamilyConfig(family, { ...c.config, ...(c.family === 'mlp' ? { generatorUnits: [16] } : {}) });
          const build = () => ({ generator: family.buildGenerator(config, context(null, 9)), discriminator: family.buildDiscriminator(config, context(null, 9)) });
          const real = tf.tensor4d(mnist!.images.slice(0, 8 * 784), [8, 28, 28, 1]);
          const lr = 0.5;
          const step = (lambda: number) => {
            const pair = build();
            const initial = snapshotWeights(pair.discriminator);
            const stepper = new GanStepper({
              ...pair, numClasses: null, latentDim: 8, loss: 'wasserstein', optimizer: 'sgd', learningRateGenerator: lr,
              learningRateDiscriminator: lr, beta1: 0.5, seed: 5, techniques: { gradientPenalty: lambda },
            });
            const before = tf.memory().numTensors;
            const metrics = stepper.trainDiscriminatorStep(real, null, 4);
            assert.equal(tf.memory().numTensors, before, 'no tensor left behind by a penalised D step');
            const moved = snapshotWeights(pair.discriminator).map((w, i) => w.map((x, j) => (initial[i]![j]! - x) / lr));
            stepper.dispose();
            return { pair, initial, metrics, moved };
          };
          const plain = step(0);
          const penalised = step(LAMBDA);
          assert.ok(sameBits(plain.initial, penalised.initial), 'both start from the same weights');
          assert.equal(plain.metrics.gradientPenalty, undefined);
          assert.ok(penalised.metrics.gradientPenalty! > 0 && penalised.metrics.criticGradientNorm! > 0);
          assert.notEqual(plain.metrics.gradNormD, penalised.metrics.gradNormD);
          // The penalty's own gradient at the starting weights, on the stepper's fakes and interpolates.
          const reference = build();
          const expected = tf.tidy(() => {
            const z = tf.randomNormal([8, 8], 0, 1, 'float32', streamSeed(5, 4));
            const fake = reference.generator.apply(z, { training: true }) as tf.Tensor;
            const input: PenaltyInput = { critic: criticOf(reference.discriminator), real, fake, realLabels: null, fakeLabels: null, key: 4 };
            const vars = reference.discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
            const { grads } = tf.variableGrads(() => gradientPenalty(LAMBDA, 5, input).loss, vars);
            return gradientValues(vars, grads);
          });
          const difference = penalised.moved.map((w, i) => w.map((x, j) => x - plain.moved[i]![j]!));
          const scale = Math.max(...expected.map((g) => Math.max(...g.map(Math.abs))));
          assert.ok(scale > 0, 'the penalty has a gradient');
          const error = Math.max(...difference.map((d, i) => maxAbsDiff(d, expected[i]!))) / scale;
          // Weight deltas are differences of float32 weights of order 0.1 divided by lr: ~1e-7/0.5 absolute noise.
          assert.ok(error < 1e-2, `Δθ(λ=10) − Δθ(λ=0) vs λ·∇P: relative max error ${error}`);
          figures.push(`${backend}: ${c.family} trainer step, Δθ(λ=10) − Δθ(λ=0) vs λ·∇P relative max error ${error.toExponential(2)}`);
          for (const r of [plain, penalised]) { r.pair.generator.dispose(); r.pair.discriminator.dispose(); }
          reference.generator.dispose();
          reference.discriminator.dispose();
          real.dispose();
        });
      }

      it('weight clipping bounds every D weight after a real step, in place and without leaks; G is not clipped', (t) => {
        if (!backends.includes(backend)) return t.skip(`${backend} does not load here`);
        const family = getFamily('dcgan');
        const config = resolveFamilyConfig(family, { discriminatorNorm: 'layer', discriminatorChannels: 8, generatorChannels: 8 });
        const pair = { generator: family.buildGenerator(config, context(null, 2)), discriminator: family.buildDiscriminator(config, context(null, 2)) };
        const c = 0.01;
        const stepper = new GanStepper({
          ...pair, numClasses: null, latentDim: 8, loss: 'wasserstein', optimizer: 'rmsprop', learningRateGenerator: 5e-5,
          learningRateDiscriminator: 5e-5, beta1: 0.5, seed: 1, techniques: { weightClip: c },
        });
        const variables = pair.discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
        assert.ok(variables.some((v) => (v.dataSync() as Float32Array).some((x) => Math.abs(x) > c)), 'the fresh critic has weights beyond ±c');
        // LayerNorm's γ starts at 1, so the bound checks below also show it clipped, as the paper clips every parameter.
        assert.ok([...pair.discriminator.getLayer('d_ln_1').getWeights()[0]!.dataSync()].every((x) => x === 1));
        const real = images(8, 3);
        stepper.trainDiscriminatorStep(real, null, 0); // creates RMSProp's state
        const before = tf.memory().numTensors;
        stepper.trainDiscriminatorStep(real, null, 2);
        assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
        const after = pair.discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
        assert.ok(after.every((v, i) => v === variables[i]), 'the same variables, written in place');
        let atBound = 0;
        for (const v of after) {
          for (const x of v.dataSync() as Float32Array) {
            assert.ok(Math.abs(x) <= c, `${v.name}: ${x} outside ±${c}`);
            if (Math.abs(x) === Math.fround(c)) atBound += 1;
          }
        }
        assert.ok(atBound > 0, 'some weights were clipped to the bound');
        const g = snapshotWeights(pair.generator);
        stepper.trainGeneratorStep(8, 1);
        assert.ok(snapshotWeights(pair.generator).flatMap((w) => [...w]).some((x) => Math.abs(x) > c), 'G is not clipped');
        assert.ok(!sameBits(g, snapshotWeights(pair.generator)), 'G moved');
        // clipWeights on its own: idempotent once inside the box.
        const clipped = snapshotWeights(pair.discriminator);
        clipWeights(pair.discriminator.trainableWeights.map((w) => w.read() as tf.Variable), c);
        assert.ok(sameBits(clipped, snapshotWeights(pair.discriminator)));
        stepper.dispose();
        real.dispose();
        pair.generator.dispose();
        pair.discriminator.dispose();
      });
    });
  }

  describe('wasm against cpu', () => {
    it("the penalty's weight gradient of each critic is the same on wasm and on cpu", async (t) => {
      if (!backends.includes('wasm')) return t.skip('wasm does not load here');
      for (const c of CRITICS) {
        const run = async (backend: 'wasm' | 'cpu') => {
          await tf.setBackend(backend);
          const p = problem(c, 17);
          const { value, grads } = tf.variableGrads(() => gradientPenalty(LAMBDA, 17, p.input).loss, p.variables);
          const out = gradientValues(p.variables, grads);
          tf.dispose([value, ...Object.values(grads)]);
          p.dispose();
          return out;
        };
        const wasm = await run('wasm');
        const cpu = await run('cpu');
        const scale = Math.max(...cpu.map((g) => Math.max(...g.map(Math.abs))));
        const error = Math.max(...wasm.map((g, i) => maxAbsDiff(g, cpu[i]!))) / scale;
        assert.ok(error < 1e-3, `${c.label}: wasm vs cpu relative max |Δ| ${error}`);
        figures.push(`wasm vs cpu: ${c.label}: relative max |Δ| ${error.toExponential(2)}`);
      }
    });
  });

  describe('the technique', () => {
    before(async () => { await tf.setBackend(backends.includes('wasm') ? 'wasm' : 'cpu'); });

    it("refuses a BatchNorm critic, naming discriminatorNorm 'layer' or 'none'; refuses λ ≤ 0", () => {
      const family = getFamily('dcgan');
      const d = family.buildDiscriminator(resolveFamilyConfig(family, { discriminatorNorm: 'batch', discriminatorChannels: 4 }), context(null));
      assert.throws(() => gradientPenaltyTechnique.create(10, techniqueContext(d, 0)), (e: unknown) =>
        e instanceof InvalidParameterError && e.code === 'INVALID_PARAMETER' && /BatchNormalization/.test(e.message) && /'layer' or 'none'/.test(e.message));
      assert.throws(() => gradientPenaltyTechnique.create(-1, techniqueContext(d, 0)), RangeError);
      d.dispose();
    });

    it('draws ε per sample from (seed, key): the same for the same key, different across keys, in (0, 1)', () => {
      const a = interpolationWeights(3, 10, 64);
      assert.deepEqual(a, interpolationWeights(3, 10, 64));
      assert.notDeepEqual(a, interpolationWeights(3, 12, 64));
      assert.deepEqual(interpolationWeights(3, 10, 8), a.subarray(0, 8), 'sample i gets the same ε whatever the batch size');
      assert.ok(a.every((e) => e > 0 && e < 1) && Math.min(...a) < 0.1 && Math.max(...a) > 0.9);
      // x̂ lies on the segment from the fake to the real sample, at ε.
      const real = tf.fill([2, 2, 2, 1], 1);
      const fake = tf.fill([2, 2, 2, 1], -1);
      const mixed = interpolate(real, fake, Float32Array.from([0.25, 0.9]));
      assert.deepEqual([...mixed.dataSync()].map((v) => Math.round(v * 1e6) / 1e6), [-0.5, -0.5, -0.5, -0.5, 0.8, 0.8, 0.8, 0.8]);
      tf.dispose([real, fake, mixed]);
    });
  });
});

describe('training with --preset wgan and wgan-gp', () => {
  before(async () => { await selectBackend({ prefer: 'wasm' }); });
  after(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); dirs = []; });

  const runs: Record<string, string> = {};
  for (const preset of ['wgan', 'wgan-gp'] as const) {
    for (const family of ['mlp', 'dcgan'] as const) {
      it(`${preset} on ${family}: metrics.jsonl carries the Wasserstein estimate${preset === 'wgan-gp' ? ' and the gradient penalty' : ''}, all finite`, async () => {
        const outDir = await tempDir(`${preset}-${family}`);
        dirs.push(outDir);
        const familyConfig = family === 'dcgan' ? { generatorChannels: 32, discriminatorChannels: 16 } : {};
        const result = await trainGan({ family, familyConfig, preset, dataset: mnist!, steps: 3, batchSize: 16, seed: 2, outDir, progress: false, diagnoses: false });
        assert.equal(result.step, 3);
        const lines = (await readFile(join(outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.equal(lines.length, 3);
        for (const line of lines) {
          assert.equal(typeof line.wassersteinEstimate, 'number');
          if (preset === 'wgan-gp') {
            assert.equal(typeof line.gradientPenalty, 'number');
            assert.equal(typeof line.criticGradientNorm, 'number');
          } else {
            assert.equal(line.gradientPenalty, undefined);
          }
          for (const [key, value] of Object.entries(line)) if (typeof value === 'number') assert.ok(Number.isFinite(value), `${key} = ${value}`);
        }
        const loaded = await loadCheckpoint(outDir);
        assert.equal(loaded.sidecar.loss, 'wasserstein');
        assert.equal(loaded.sidecar.training?.preset, preset);
        assert.equal(loaded.sidecar.training?.discriminatorSteps, 5);
        if (preset === 'wgan') {
          assert.equal(loaded.sidecar.training?.weightClip, 0.01);
          assert.equal(loaded.sidecar.training?.optimizer, 'rmsprop');
          for (const w of loaded.discriminator.trainableWeights) assert.ok((w.read().dataSync() as Float32Array).every((x) => Math.abs(x) <= 0.01), `${w.name} outside ±0.01`);
        } else {
          assert.equal(loaded.sidecar.training?.gradientPenalty, 10);
          assert.deepEqual([loaded.sidecar.training?.beta1, loaded.sidecar.training?.beta2], [0, 0.9]);
          if (family === 'dcgan') assert.equal(loaded.sidecar.familyConfig.discriminatorNorm, 'layer');
        }
        loaded.generator.dispose();
        loaded.discriminator.dispose();
        runs[`${preset}-${family}`] = outDir;
      });
    }
  }

  it('a wgan-gp generator exports and matches tfjs in onnxruntime-node', async () => {
    const runDir = runs['wgan-gp-dcgan'];
    assert.ok(runDir, 'the wgan-gp dcgan run above finished');
    const exported = await exportRun({ runDir, outPath: join(runDir, 'wgan-gp.onnx'), samples: 32, ganforgeVersion: 'test' });
    assert.ok(exported.parity.maxAbsDiff <= 1e-4, `tfjs vs ONNX max |Δ| ${exported.parity.maxAbsDiff}`);
    assert.equal(exported.manifest.family, 'dcgan');
    figures.push(`export parity of a wgan-gp dcgan generator: max |Δ| ${exported.parity.maxAbsDiff.toExponential(2)}`);
  });

  it('the CLI: --preset wgan-gp trains, explicit flags override it, and a BatchNorm critic is refused with the fix', async () => {
    const outDir = await tempDir('cli-wgan-gp');
    dirs.push(outDir);
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'train', ...args], { encoding: 'utf8', timeout: 300_000 });
    const ok = cli(['--preset', 'wgan-gp', '--family', 'mlp', '--dataset', 'mnist', '--limit', '128', '--batch-size', '8', '--steps', '2',
      '--gradient-penalty', '5', '--d-steps', '2', '--lr-schedule', 'cosine', '--out', outDir, '--no-diagnoses', '--backend', 'wasm']);
    assert.equal(ok.status, 0, ok.stderr);
    const lines = (await readFile(join(outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => Number.isFinite(l.gradientPenalty) && Number.isFinite(l.wassersteinEstimate)));
    const sidecar = JSON.parse(await readFile(join(outDir, 'checkpoints', 'step-000002', 'run.json'), 'utf8')) as { training: Record<string, unknown> };
    assert.deepEqual(
      [sidecar.training.preset, sidecar.training.gradientPenalty, sidecar.training.discriminatorSteps, sidecar.training.optimizer, sidecar.training.beta1, sidecar.training.beta2, sidecar.training.lrSchedule],
      ['wgan-gp', 5, 2, 'adam', 0, 0.9, 'cosine']);
    const refused = cli(['--preset', 'wgan-gp', '--family', 'dcgan', '--set', 'discriminatorNorm=batch', '--dataset', 'mnist', '--limit', '64',
      '--batch-size', '8', '--steps', '1', '--out', join(outDir, 'bn'), '--no-diagnoses', '--backend', 'cpu']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /BatchNormalization/);
    assert.match(refused.stderr, /discriminatorNorm 'layer' or 'none'/);
  });
});
