// The wasm kernel fixes against the cpu backend's reference results: same numbers, no leaked buffers.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../train/backend.ts';
import { chooseMatMulPlan, installWasmKernelFixes, installedWasmKernelFixes, uninstallWasmKernelFixes } from '../../train/wasm-kernels.ts';

/** Runs `fn` on `backend` from plain arrays and returns plain values, so the same inputs reach both backends. */
async function runOn(backend: 'wasm' | 'cpu', fn: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

function random(shape: number[], seed: number): { values: Float32Array; shape: number[] } {
  let s = seed;
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
  return { values, shape };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function compare(fn: () => tf.Tensor, tolerance: number): Promise<void> {
  const wasm = await runOn('wasm', fn);
  const cpu = await runOn('cpu', fn);
  assert.ok(maxAbsDiff(wasm, cpu) <= tolerance, `wasm vs cpu max |diff| ${maxAbsDiff(wasm, cpu)} > ${tolerance}`);
}

describe('wasm kernel fixes', () => {
  before(async () => {
    const selected = await selectBackend({ prefer: 'wasm' });
    assert.equal(selected.name, 'wasm');
    installWasmKernelFixes();
    assert.deepEqual(installedWasmKernelFixes().sort(), ['BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'GanforgeAdamUpdate', 'Tile', 'UnsortedSegmentSum', '_FusedMatMul']);
  });

  it('matMul with transposeA / transposeB / both, rank 2 and batched rank 3, matches cpu', async () => {
    const a = random([33, 17], 1);
    const b = random([33, 9], 2);
    const c = random([9, 17], 3);
    const a3 = random([3, 7, 5], 4);
    const b3 = random([3, 4, 7], 5);
    const t = (r: { values: Float32Array; shape: number[] }) => tf.tensor(r.values, r.shape);
    await compare(() => tf.matMul(t(a), t(b), true, false), 1e-5); // [17, 9]
    await compare(() => tf.matMul(t(a), t(c), false, true), 1e-5); // [33, 9]
    await compare(() => tf.matMul(t(b), t(a), true, false), 1e-5);
    await compare(() => tf.matMul(t(c), t(b), true, true), 1e-5); // [17, 33]
    await compare(() => tf.matMul(t(a3), t(b3), true, true), 1e-5); // [3, 5, 4]
  });

  it('fused matMul (Dense forward) with transposes and bias matches cpu', async () => {
    const a = random([6, 10], 6);
    const b = random([8, 6], 7);
    await compare(() => tf.fused.matMul({ a: tf.tensor(a.values, a.shape), b: tf.tensor(b.values, b.shape), transposeA: true, transposeB: true,
      bias: tf.ones([8]), activation: 'relu' }), 1e-5);
  });

  it('conv2d filter gradient (Conv2DBackpropFilter) matches cpu for same/valid, stride 1/2, odd/even kernels', async () => {
    const cases: { x: number[]; k: number[]; stride: number; pad: 'same' | 'valid' }[] = [
      { x: [2, 9, 9, 3], k: [3, 3, 3, 4], stride: 1, pad: 'same' },
      { x: [2, 9, 9, 3], k: [5, 5, 3, 4], stride: 2, pad: 'same' },
      { x: [2, 8, 10, 2], k: [4, 4, 2, 3], stride: 2, pad: 'same' },
      { x: [2, 9, 7, 3], k: [3, 2, 3, 2], stride: 2, pad: 'valid' },
      { x: [1, 6, 6, 1], k: [1, 1, 1, 5], stride: 1, pad: 'valid' },
    ];
    for (const [i, c] of cases.entries()) {
      const x = random(c.x, 10 + i);
      const w = random(c.k, 20 + i);
      const grad = () => {
        const xt = tf.tensor4d(x.values, c.x as [number, number, number, number]);
        const weights = tf.tensor4d(w.values, c.k as [number, number, number, number]);
        // A non-uniform upstream gradient so every filter tap and channel is weighted differently.
        const g = tf.grad((f: tf.Tensor) => tf.conv2d(xt, f as tf.Tensor4D, c.stride, c.pad).square().sum());
        return g(weights);
      };
      await compare(grad, 2e-4);
    }
  });

  it('matMul picks the layout that moves fewer floats (Dense input gradient: transpose dy and the output, not the weight)', () => {
    assert.equal(chooseMatMulPlan(64, 784, 1024, false, true), 'transpose-output'); // dx = dy · Wᵀ, W [1024, 784]
    assert.equal(chooseMatMulPlan(1024, 64, 784, true, false), 'transpose-inputs'); // dW = xᵀ · dy, x [64, 1024]
    assert.equal(chooseMatMulPlan(1024, 3136, 128, true, false), 'transpose-inputs'); // conv dW = colsᵀ · dy (cols [3136, 1024])
  });

  it('matMul laid out either way matches cpu on XNNPACK-sized operands', async () => {
    const dy = random([8, 24], 50);
    const w = random([56, 24], 51); // dy · wᵀ: transpose-output
    const x = random([8, 56], 52);
    assert.equal(chooseMatMulPlan(8, 24, 56, false, true), 'transpose-output');
    await compare(() => tf.matMul(tf.tensor(dy.values, dy.shape), tf.tensor(w.values, w.shape), false, true), 1e-4);
    await compare(() => tf.matMul(tf.tensor(x.values, x.shape), tf.tensor(dy.values, dy.shape), true, false), 1e-4);
  });

  // Every kernel size (3, 4, 5), stride (1, 2) and padding of the conv gradients, both gradients of conv2d and the
  // transposed conv's forward pass (Conv2DBackpropInput). Inputs are in [-1, 1); sums run over at most 5·5·3 = 75
  // products for dx and 2·9·9 = 162 for dW, so float32 rounding stays far below the tolerances (dx 1e-4, dW 2e-4).
  const grid = [3, 4, 5].flatMap((k) => [1, 2].flatMap((stride) => (['same', 'valid'] as const).map((pad) => ({ k, stride, pad }))));
  for (const { k, stride, pad } of grid) {
    it(`conv2d gradients and conv2dTranspose match cpu: kernel ${k}, stride ${stride}, padding '${pad}'`, async () => {
      const xShape: [number, number, number, number] = [2, 9, 8, 3];
      const wShape: [number, number, number, number] = [k, k, 3, 4];
      const x = random(xShape, 100 + k * 10 + stride);
      const w = random(wShape, 200 + k * 10 + stride);
      // A non-uniform upstream gradient (of ½Σy²), so every tap, pixel and channel is weighted differently.
      const loss = (xt: tf.Tensor, f: tf.Tensor) => tf.conv2d(xt as tf.Tensor4D, f as tf.Tensor4D, stride, pad).square().sum();
      const [dx, dw] = [0, 1].map((which) => () => {
        const grads = tf.grads(loss)([tf.tensor4d(x.values, xShape), tf.tensor4d(w.values, wShape)]);
        return grads[which]!;
      });
      await compare(dx!, 1e-4);
      await compare(dw!, 2e-4);
      const y: tf.Tensor4D = tf.tidy(() => tf.conv2d(tf.tensor4d(x.values, xShape), tf.tensor4d(w.values, wShape), stride, pad));
      const yValues = random(y.shape, 300 + k);
      const yShape = y.shape;
      y.dispose();
      await compare(() => tf.conv2dTranspose(tf.tensor4d(yValues.values, yShape), tf.tensor4d(w.values, wShape), xShape, stride, pad), 1e-4);
    });
  }

  it('tile matches cpu on leading, inner and all axes', async () => {
    const v = random([2, 1, 3], 60);
    for (const reps of [[3, 4, 1], [1, 2, 5], [2, 3, 2]]) await compare(() => tf.tile(tf.tensor(v.values, v.shape), reps), 0);
    await compare(() => tf.tile(tf.tensor(random([1, 1, 1, 20], 61).values, [1, 1, 1, 20]), [4, 3, 2, 1]), 0);
  });

  it('conv2dTranspose filter gradient matches cpu (the generator side of a DCGAN)', async () => {
    const x = random([2, 4, 4, 6], 30);
    const w = random([5, 5, 3, 6], 31);
    await compare(() => tf.grad((f: tf.Tensor) =>
      tf.conv2dTranspose(tf.tensor4d(x.values, [2, 4, 4, 6]), f as tf.Tensor4D, [2, 8, 8, 3], 2, 'same').square().sum())(tf.tensor4d(w.values, [5, 5, 3, 6])), 2e-4);
  });

  it('embedding gradient (UnsortedSegmentSum) matches cpu, repeated and unused ids included', async () => {
    const table = random([5, 3], 40);
    const ids = [4, 1, 1, 0, 4, 4];
    await compare(() => tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(ids, 'int32')).mul(tf.range(0, 18).reshape([6, 3])).sum())(
      tf.tensor(table.values, table.shape)), 1e-5);
    await compare(() => tf.unsortedSegmentSum(tf.tensor(random([4, 2, 2], 41).values, [4, 2, 2]), tf.tensor1d([2, 0, 2, 7], 'int32'), 3), 1e-5);
  });

  it('fused Adam on wasm follows tfjs Adam step for step, keeps its state names, and leaves other backends alone', async () => {
    /** Three Adam steps on two variables from fixed gradients; returns the values, moments and optimizer weight names. */
    const train = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      // Created in tidy so the initial tensors go (a variable keeps its own reference to the data).
      const w = tf.tidy(() => tf.variable(tf.tensor(random([7, 5], 70).values, [7, 5]), true, `w_${backend}_${Math.random()}`));
      const b = tf.tidy(() => tf.variable(tf.tensor(random([5], 71).values, [5]), true, `b_${backend}_${Math.random()}`));
      const optimizer = tf.train.adam(0.01, 0.5, 0.999);
      for (let step = 0; step < 3; step++) {
        tf.tidy(() => optimizer.applyGradients([
          { name: w.name, tensor: tf.tensor(random([7, 5], 80 + step).values, [7, 5]) },
          { name: b.name, tensor: tf.tensor(random([5], 90 + step).values, [5]) },
        ]));
      }
      const weights = await optimizer.getWeights();
      weights[0]!.tensor.dispose(); // the iteration count, a fresh scalar
      const out = { values: [...w.dataSync(), ...b.dataSync()], state: weights.slice(1).map((x) => [...x.tensor.dataSync()]), names: weights.map((x) => x.name.replace(/_(wasm|cpu)_[0-9.]+/, '')) };
      optimizer.dispose();
      w.dispose();
      b.dispose();
      return out;
    };
    const before = tf.memory().numTensors;
    const fused = await train('wasm');
    const reference = await train('cpu'); // tfjs's own update: the fused one only runs on wasm
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    assert.deepEqual(fused.names, reference.names);
    // float32 rounding of ~10 operations on values of order 1: 1e-6 absolute is ~10 ulps.
    assert.ok(maxAbsDiff(Float32Array.from(fused.values), Float32Array.from(reference.values)) < 1e-6);
    assert.ok(maxAbsDiff(Float32Array.from(fused.state.flat()), Float32Array.from(reference.state.flat())) < 1e-6);
    // Uninstalled, wasm runs tfjs's own update and lands on the same numbers.
    uninstallWasmKernelFixes();
    try {
      const stock = await train('wasm');
      assert.ok(maxAbsDiff(Float32Array.from(stock.values), Float32Array.from(fused.values)) < 1e-6);
    } finally {
      installWasmKernelFixes();
    }
  });

  it('leaks no tensors or wasm buffers', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 2]);
    const w = tf.randomNormal([3, 3, 2, 4]);
    const a = tf.randomNormal([16, 8]);
    const run = () => tf.tidy(() => {
      tf.grad((f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same').sum())(w);
      tf.matMul(a, a, true, false);
      tf.matMul(a, a, false, true);
      tf.conv2dTranspose(tf.randomNormal<tf.Rank.R4>([2, 4, 4, 4]), w as tf.Tensor4D, [2, 8, 8, 2], 2, 'same');
      tf.tile(a, [2, 3]);
      const v = tf.variable(a, true, `leak_${Math.random()}`);
      const adam = tf.train.adam(0.01);
      adam.applyGradients([{ name: v.name, tensor: a }]);
      adam.dispose();
      v.dispose();
      tf.unsortedSegmentSum(a, tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32'), 3);
    });
    run();
    const before = tf.memory();
    for (let i = 0; i < 3; i++) run();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numBytes, before.numBytes);
    const backend = tf.backend() as unknown as { dataIdMap: { numDataIds(): number } };
    assert.equal(backend.dataIdMap.numDataIds(), before.numDataBuffers, 'every wasm buffer belongs to a live tensor');
  });
});
