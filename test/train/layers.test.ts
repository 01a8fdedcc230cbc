// The custom discriminator layers against hand computations: the minibatch-stddev feature (groups, identical vs
// diverse batches, gradients, save/load) and spectral normalisation (top singular value of the normalised kernel → 1
// by power iteration, checked with an independent power iteration in float64; u saved and reloaded).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../../common/random.ts';
import { loadLayersModel, saveLayersModel } from '../../train/checkpoint.ts';
import { MinibatchStddev, minibatchGroupSize } from '../../train/models/layers/minibatch-stddev.ts';
import { SpectralConv2D, SpectralDense } from '../../train/models/layers/spectral-normalization.ts';
import { tempDir, useBestBackend } from './helpers.ts';

function values(count: number, seed: number, scale = 1): Float32Array {
  const random = new SeededRandom(seed, 3);
  return Float32Array.from({ length: count }, () => (random.nextOpenUnit() - 0.5) * 2 * scale);
}

/** Top singular value of a row-major [rows, cols] matrix: power iteration on AᵀA in float64, to convergence. */
function topSingularValue(a: ArrayLike<number>, rows: number, cols: number): number {
  let v = Float64Array.from({ length: cols }, (_, i) => 1 + Math.sin(i));
  let sigma = 0;
  for (let iteration = 0; iteration < 5000; iteration++) {
    const av = new Float64Array(rows);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) av[r]! += a[r * cols + c]! * v[c]!;
    const atav = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) atav[c]! += a[r * cols + c]! * av[r]!;
    const norm = Math.hypot(...atav);
    const next = Math.sqrt(norm);
    v = atav.map((x) => x / norm);
    if (Math.abs(next - sigma) < 1e-13 * next) return next;
    sigma = next;
  }
  return sigma;
}

before(async () => {
  await useBestBackend();
});

describe('MinibatchStddev', () => {
  it('appends the mean over features of the per-group stddev, groups being n mod (B / G), as computed by hand', () => {
    const [batch, features] = [8, 3];
    const x = values(batch * features, 1);
    const layer = new MinibatchStddev({ groupSize: 4 });
    const out = tf.tidy(() => layer.apply(tf.tensor2d(x, [batch, features])) as tf.Tensor);
    assert.deepEqual(out.shape, [8, 4]);
    const got = out.arraySync() as number[][];
    out.dispose();
    // G = 4, M = 2: group j holds samples j, j + 2, j + 4, j + 6.
    const groupValue = (j: number) => {
      const members = [0, 1, 2, 3].map((i) => i * 2 + j);
      let sum = 0;
      for (let f = 0; f < features; f++) {
        const column = members.map((n) => x[n * features + f]!);
        const mean = column.reduce((a, b) => a + b, 0) / 4;
        sum += Math.sqrt(column.reduce((a, b) => a + (b - mean) ** 2, 0) / 4 + 1e-8);
      }
      return sum / features;
    };
    for (let n = 0; n < batch; n++) {
      for (let f = 0; f < features; f++) assert.ok(Math.abs(got[n]![f]! - x[n * features + f]!) < 1e-7, 'the input features pass through unchanged');
      assert.ok(Math.abs(got[n]![features]! - groupValue(n % 2)) < 1e-5, `sample ${n}: ${got[n]![features]} vs ${groupValue(n % 2)}`);
    }
    assert.notEqual(groupValue(0), groupValue(1));
  });

  it('feature maps: one constant extra channel per sample; identical batch → σ = √ε ≈ 0, diverse batch > 0', () => {
    const layer = new MinibatchStddev();
    const same = tf.tidy(() => {
      const one = tf.tensor4d(values(2 * 2 * 3, 2), [1, 2, 2, 3]);
      return (layer.apply(tf.tile(one, [4, 1, 1, 1])) as tf.Tensor).arraySync() as number[][][][];
    });
    const diverse = tf.tidy(() => (layer.apply(tf.tensor4d(values(4 * 2 * 2 * 3, 3), [4, 2, 2, 3])) as tf.Tensor).arraySync() as number[][][][]);
    assert.equal(same[0]![0]![0]!.length, 4);
    const extra = (t: number[][][][]) => t.flatMap((s) => s.flatMap((row) => row.map((px) => px[3]!)));
    for (const v of extra(same)) assert.ok(Math.abs(v - 1e-4) < 1e-6, `identical samples: ${v} (√1e-8 = 1e-4)`);
    const d = extra(diverse);
    assert.ok(d.every((v) => v > 0.1 && Math.abs(v - d[0]!) < 1e-6), `diverse batch: ${d.slice(0, 4).join(', ')}`);
  });

  it('group size: min(groupSize, B), lowered to a divisor of B', () => {
    assert.equal(minibatchGroupSize(4, 64), 4);
    assert.equal(minibatchGroupSize(4, 2), 2);
    assert.equal(minibatchGroupSize(4, 6), 3);
    assert.equal(minibatchGroupSize(4, 7), 1);
    assert.throws(() => new MinibatchStddev({ groupSize: 0 }), /'groupSize' must be an integer ≥ 1, got 0/);
  });

  it('gradients flow through it to the input and to the weights before it', () => {
    const input = tf.input({ shape: [5] });
    const dense = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const h = new MinibatchStddev({ groupSize: 4 }).apply(dense.apply(input)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: h });
    const x = tf.tensor2d(values(8 * 5, 4), [8, 5]);
    // Only the appended feature: its gradient reaches the kernel only through the batch statistics.
    const { grads } = tf.variableGrads(() => tf.sum<tf.Scalar>((model.apply(x) as tf.Tensor).slice([0, 3], [8, 1])), [dense.trainableWeights[0]!.read() as tf.Variable]);
    const g = Object.values(grads)[0]!.dataSync();
    assert.ok(g.every(Number.isFinite) && g.some((v) => Math.abs(v) > 1e-4), 'no gradient through the stddev feature');
    const dx = tf.grad((t: tf.Tensor) => tf.sum((new MinibatchStddev().apply(t) as tf.Tensor).slice([0, 5], [8, 1])))(x).dataSync();
    assert.ok(dx.every(Number.isFinite) && dx.some((v) => Math.abs(v) > 1e-4));
    tf.dispose([x, ...Object.values(grads)]);
    model.dispose();
  });

  it('round-trips through a checkpoint save/load (registered for serialization)', async () => {
    const input = tf.input({ shape: [2, 2, 3] });
    const model = tf.model({ inputs: input, outputs: new MinibatchStddev({ groupSize: 2, name: 'mbstd' }).apply(input) as tf.SymbolicTensor });
    const dir = join(await tempDir('mbstd'), 'model');
    await saveLayersModel(model, dir);
    const loaded = await loadLayersModel(dir);
    const layer = loaded.getLayer('mbstd');
    assert.ok(layer instanceof MinibatchStddev);
    assert.equal(layer.groupSize, 2);
    const x = tf.tensor4d(values(4 * 12, 5), [4, 2, 2, 3]);
    assert.deepEqual((loaded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync());
  });
});

describe('spectral normalisation', () => {
  it('SpectralDense: after enough training calls the normalised kernel has top singular value 1; σ matches an independent estimate', () => {
    const [n, units] = [12, 7];
    const layer = new SpectralDense({ units, kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: 11 }), powerIterationSeed: 5 });
    const x = tf.tensor2d(values(4 * n, 6), [4, n]);
    layer.apply(x); // builds
    const kernel = layer.getWeights()[0]!.dataSync();
    const trueSigma = topSingularValue(kernel, n, units);
    assert.ok(trueSigma > 2, `a N(0, 1) 12×7 kernel has σ ≈ 5, got ${trueSigma}`);
    for (let i = 0; i < 200; i++) tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    const estimate = layer.spectralNormEstimate();
    assert.ok(Math.abs(estimate - trueSigma) / trueSigma < 1e-4, `σ estimate ${estimate} vs ${trueSigma}`);
    const normalized = layer.normalizedKernel();
    const top = topSingularValue(normalized.dataSync(), n, units);
    assert.ok(Math.abs(top - 1) < 1e-4, `top singular value of W/σ: ${top}`);
    // The layer applies exactly that kernel: x·(W/σ) + b.
    const expected = tf.tidy(() => tf.add(tf.matMul(x, normalized), layer.getWeights()[1]!).dataSync());
    const got = tf.tidy(() => (layer.apply(x) as tf.Tensor).dataSync());
    assert.ok(got.every((v, i) => Math.abs(v - expected[i]!) < 1e-5));
    tf.dispose([x, normalized]);
  });

  it('u advances only in training calls; one step from a random u underestimates σ (power iteration from below)', () => {
    const layer = new SpectralDense({ units: 6, kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: 2 }), powerIterationSeed: 9 });
    const x = tf.tensor2d(values(3 * 10, 7), [3, 10]);
    layer.apply(x);
    const u = () => layer.getWeights()[2]!.dataSync();
    const u0 = u();
    tf.dispose(layer.apply(x) as tf.Tensor);
    assert.deepEqual(u(), u0, 'an inference call moved u');
    const first = layer.spectralNormEstimate();
    tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    assert.notDeepEqual(u(), u0, 'a training call did not move u');
    assert.equal(layer.nonTrainableWeights.length, 1);
    assert.equal(layer.nonTrainableWeights[0]!.originalName.split('/').pop(), 'u');
    assert.ok(first <= topSingularValue(layer.getWeights()[0]!.dataSync(), 10, 6) + 1e-6);
    x.dispose();
  });

  it('SpectralConv2D: the [k·k·in, filters] kernel matrix is normalised to σ = 1 and the conv applies it', () => {
    const layer = new SpectralConv2D({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: 4 }), powerIterationSeed: 3 });
    const x = tf.tensor4d(values(2 * 6 * 6 * 2, 8), [2, 6, 6, 2]);
    const y0 = layer.apply(x) as tf.Tensor;
    assert.deepEqual(y0.shape, [2, 3, 3, 5]);
    y0.dispose();
    for (let i = 0; i < 200; i++) tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    const normalized = layer.normalizedKernel();
    assert.deepEqual(normalized.shape, [3, 3, 2, 5]);
    assert.ok(Math.abs(topSingularValue(normalized.dataSync(), 18, 5) - 1) < 1e-4);
    const expected = tf.tidy(() => tf.add(tf.conv2d(x, normalized as tf.Tensor4D, 2, 'same'), layer.getWeights()[1]!).dataSync());
    const got = tf.tidy(() => (layer.apply(x) as tf.Tensor).dataSync());
    assert.ok(got.every((v, i) => Math.abs(v - expected[i]!) < 1e-5));
    tf.dispose([x, normalized]);
  });

  it('the gradient reaches the kernel (through W and σ) and stays finite; no tensor leak per training call', () => {
    const layer = new SpectralDense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const x = tf.tensor2d(values(5 * 6, 9), [5, 6]);
    layer.apply(x);
    const kernel = layer.trainableWeights[0]!.read() as tf.Variable;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(layer.apply(x, { training: true }) as tf.Tensor)), [kernel]);
      const g = Float64Array.from(Object.values(grads)[0]!.dataSync());
      tf.dispose([value, ...Object.values(grads)]);
      return g;
    };
    step();
    const before = tf.memory().numTensors;
    const g = step();
    assert.equal(tf.memory().numTensors, before);
    assert.ok(g.every(Number.isFinite) && g.some((v) => Math.abs(v) > 1e-4));
    // Scaling W does not change W/σ(W): the gradient is orthogonal to W (σ's gradient term removes the radial part).
    const w = Float64Array.from(kernel.dataSync());
    const radial = g.reduce((s, v, i) => s + v * w[i]!, 0) / (Math.hypot(...g) * Math.hypot(...w));
    assert.ok(Math.abs(radial) < 1e-3, `cos(∇, W) = ${radial}: the gradient ignores σ's dependence on W`);
    x.dispose();
  });

  it('u persists across a checkpoint save/load, and the reloaded model predicts the same', async () => {
    const input = tf.input({ shape: [4, 4, 1] });
    let h = new SpectralConv2D({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', name: 'sn_conv', powerIterationSeed: 1 }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = new SpectralDense({ units: 1, name: 'sn_dense', powerIterationSeed: 2 }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: h });
    const x = tf.tensor4d(values(3 * 16, 10), [3, 4, 4, 1]);
    for (let i = 0; i < 5; i++) tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const dir = join(await tempDir('sn'), 'model');
    await saveLayersModel(model, dir);
    const loaded = await loadLayersModel(dir);
    assert.ok(loaded.getLayer('sn_conv') instanceof SpectralConv2D && loaded.getLayer('sn_dense') instanceof SpectralDense);
    const us = (m: tf.LayersModel) => m.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()));
    assert.equal(us(model).length, 2);
    assert.deepEqual(us(loaded), us(model));
    assert.deepEqual(loaded.nonTrainableWeights.map((w) => w.originalName), ['sn_conv/u', 'sn_dense/u']);
    assert.deepEqual((loaded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync());
  });
});
