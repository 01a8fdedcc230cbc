import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frechetDistance, gaussianFit, symmetricEigen, symmetricSqrt } from '../../eval/frechet.ts';
import { sampleLatents } from '../../common/latents.ts';

describe('Fréchet distance', () => {
  it('finds the eigenvalues of a known symmetric matrix', () => {
    const { values } = symmetricEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    assert.deepEqual([...values].sort((a, b) => a - b).map((v) => Number(v.toFixed(10))), [1, 3, 5]);
  });
  it('squares its square root back', () => {
    const m = Float64Array.from([4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2]);
    const r = symmetricSqrt(m, 3);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += r[i * 3 + k]! * r[k * 3 + j]!;
      assert.ok(Math.abs(s - m[i * 3 + j]!) < 1e-10);
    }
  });
  it('has the closed form for diagonal Gaussians', () => {
    // N(μ₁, diag(σ₁²)) vs N(μ₂, diag(σ₂²)): d² = Σ(μ₁−μ₂)² + Σ(σ₁ − σ₂)².
    const a = { mean: Float64Array.from([0, 1]), covariance: Float64Array.from([4, 0, 0, 1]) };
    const b = { mean: Float64Array.from([1, 1]), covariance: Float64Array.from([1, 0, 0, 9]) };
    assert.ok(Math.abs(frechetDistance(a, b) - (1 + 1 + 4)) < 1e-9);
    assert.ok(frechetDistance(a, a) < 1e-9);
  });
  it('is near 0 for two samples of one distribution and large for shifted ones', () => {
    const dim = 8;
    const x = gaussianFit(sampleLatents({ latentDim: dim, count: 4000, seed: 1 }), 4000, dim);
    const y = gaussianFit(sampleLatents({ latentDim: dim, count: 4000, seed: 2 }), 4000, dim);
    const shifted = sampleLatents({ latentDim: dim, count: 4000, seed: 3 }).map((v) => v + 1);
    assert.ok(frechetDistance(x, y) < 0.05, `same distribution: ${frechetDistance(x, y)}`);
    assert.ok(Math.abs(frechetDistance(x, gaussianFit(shifted, 4000, dim)) - dim) < 0.3);
  });
});
