import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleLatents } from '../../common/latents.ts';
import { parseTruncation, truncationThreshold } from '../../common/truncation.ts';
import { InvalidParameterError } from '../../common/errors.ts';

const stats = (z: Float32Array) => {
  let sum = 0;
  let sq = 0;
  let maxAbs = 0;
  for (const v of z) { sum += v; sq += v * v; maxAbs = Math.max(maxAbs, Math.abs(v)); }
  const mean = sum / z.length;
  return { mean, std: Math.sqrt(sq / z.length - mean * mean), maxAbs };
};

describe('sampleLatents', () => {
  it('is deterministic and image k does not depend on the batch it is in', () => {
    const batch = sampleLatents({ latentDim: 100, count: 16, seed: 42 });
    const again = sampleLatents({ latentDim: 100, count: 16, seed: 42 });
    assert.deepEqual(batch, again);
    const fifth = sampleLatents({ latentDim: 100, count: 1, seed: 42, firstIndex: 5 });
    assert.deepEqual(fifth, batch.subarray(500, 600));
  });
  it('gives different latents for different seeds', () => {
    const a = sampleLatents({ latentDim: 64, count: 1, seed: 1 });
    const b = sampleLatents({ latentDim: 64, count: 1, seed: 2 });
    assert.notDeepEqual(a, b);
  });
  it('is standard normal without truncation', () => {
    const { mean, std } = stats(sampleLatents({ latentDim: 100, count: 2000, seed: 3 }));
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`);
  });
  it("psi mode shrinks the same latent toward 0: std = ψ", () => {
    const full = sampleLatents({ latentDim: 100, count: 2000, seed: 3 });
    const half = sampleLatents({ latentDim: 100, count: 2000, seed: 3, truncation: 0.5 });
    for (let i = 0; i < 1000; i++) assert.ok(Math.abs(half[i]! - 0.5 * full[i]!) < 1e-6);
    assert.ok(Math.abs(stats(half).std - 0.5) < 0.01);
  });
  it('resample mode is bounded by its threshold, and tighter truncation means smaller spread', () => {
    let previousStd = Infinity;
    for (const t of [1, 0.85, 0.7, 0.5, 0.2]) {
      const z = sampleLatents({ latentDim: 100, count: 1000, seed: 9, truncation: t, truncationMode: 'resample' });
      const s = stats(z);
      assert.ok(s.maxAbs <= truncationThreshold(t, 'resample'), `t=${t} max ${s.maxAbs}`);
      assert.ok(s.std < previousStd, `t=${t} std ${s.std} not below ${previousStd}`);
      previousStd = s.std;
    }
    // Mass kept = t: θ(0.6827) = 1 within the approximation's accuracy; std of N(0,1)|<1 is 0.5396.
    assert.ok(Math.abs(truncationThreshold(0.6826894921370859, 'resample') - 1) < 1e-6);
    const z = sampleLatents({ latentDim: 100, count: 2000, seed: 4, truncation: 0.6826894921370859, truncationMode: 'resample' });
    assert.ok(Math.abs(stats(z).std - 0.5396) < 0.01);
  });
  it('truncation 1 is no truncation in both modes', () => {
    const plain = sampleLatents({ latentDim: 50, count: 10, seed: 5 });
    assert.deepEqual(sampleLatents({ latentDim: 50, count: 10, seed: 5, truncation: 1, truncationMode: 'psi' }), plain);
    assert.deepEqual(sampleLatents({ latentDim: 50, count: 10, seed: 5, truncation: 1, truncationMode: 'resample' }), plain);
  });
  it('rejects bad truncation values with the parameter named', () => {
    for (const bad of ['0', '1.5', 'abc', '', 'NaN', '-0.3', 'Infinity', '0b1', '0x1', '0o1', '.7.']) {
      assert.throws(() => parseTruncation(bad), (e: unknown) => e instanceof InvalidParameterError && e.parameter === 'truncation' && /\[0\.01, 1\]/.test(e.message));
    }
    assert.equal(parseTruncation('0.7'), 0.7);
    assert.equal(parseTruncation('.5'), 0.5);
    assert.equal(parseTruncation('7e-1'), 0.7);
  });
});
