// Fréchet distance between two Gaussians fitted to feature sets — the FID formula, computed on our MNIST classifier's
// features rather than Inception's (no Python, no 100 MB network), so it ranks MNIST generators but is not comparable
// with published FID numbers. Pure TypeScript: symmetric eigendecompositions by cyclic Jacobi rotations.

/** Mean vector and covariance matrix (n−1 normalised) of `count` rows of `dim` features. */
export function gaussianFit(features: Float32Array | Float64Array, count: number, dim: number): { mean: Float64Array; covariance: Float64Array } {
  if (features.length !== count * dim) throw new RangeError(`gaussianFit: ${features.length} values is not ${count} × ${dim}`);
  if (count < 2) throw new RangeError(`gaussianFit needs at least 2 rows, got ${count}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) mean[j]! += features[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) centred[j] = features[i * dim + j]! - mean[j]!;
    for (let a = 0; a < dim; a++) {
      const ca = centred[a]!;
      if (ca === 0) continue;
      const row = a * dim;
      for (let b = a; b < dim; b++) covariance[row + b]! += ca * centred[b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = covariance[a * dim + b]! / (count - 1);
      covariance[a * dim + b] = v;
      covariance[b * dim + a] = v;
    }
  }
  return { mean, covariance };
}

/** Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric dim × dim matrix. */
export function symmetricEigen(matrix: Float64Array, dim: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) v[i * dim + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < dim; p++) {
      diag += a[p * dim + p]! ** 2;
      for (let q = p + 1; q < dim; q++) off += a[p * dim + q]! ** 2;
    }
    if (off <= 1e-26 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < dim - 1; p++) {
      for (let q = p + 1; q < dim; q++) {
        const apq = a[p * dim + q]!;
        if (apq === 0) continue;
        const app = a[p * dim + p]!;
        const aqq = a[q * dim + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < dim; k++) {
          const akp = a[k * dim + p]!;
          const akq = a[k * dim + q]!;
          a[k * dim + p] = c * akp - s * akq;
          a[k * dim + q] = s * akp + c * akq;
        }
        for (let k = 0; k < dim; k++) {
          const apk = a[p * dim + k]!;
          const aqk = a[q * dim + k]!;
          a[p * dim + k] = c * apk - s * aqk;
          a[q * dim + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < dim; k++) {
          const vkp = v[k * dim + p]!;
          const vkq = v[k * dim + q]!;
          v[k * dim + p] = c * vkp - s * vkq;
          v[k * dim + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(dim);
  for (let i = 0; i < dim; i++) values[i] = a[i * dim + i]!;
  return { values, vectors: v };
}

/** Principal square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues clamp to 0). */
export function symmetricSqrt(matrix: Float64Array, dim: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, dim);
  const out = new Float64Array(dim * dim);
  for (let k = 0; k < dim; k++) {
    const root = Math.sqrt(Math.max(values[k]!, 0));
    if (root === 0) continue;
    for (let i = 0; i < dim; i++) {
      const vik = vectors[i * dim + k]! * root;
      for (let j = 0; j < dim; j++) out[i * dim + j]! += vik * vectors[j * dim + k]!;
    }
  }
  return out;
}

/**
 * d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½). Σ₁^½ Σ₂ Σ₁^½ is symmetric PSD and has the eigenvalues of Σ₁Σ₂,
 * so the trace of its root is the sum of the roots of its eigenvalues.
 */
export function frechetDistance(
  a: { mean: Float64Array; covariance: Float64Array },
  b: { mean: Float64Array; covariance: Float64Array },
): number {
  const dim = a.mean.length;
  let meanTerm = 0;
  for (let i = 0; i < dim; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  const rootA = symmetricSqrt(a.covariance, dim);
  const product = multiply(multiply(rootA, b.covariance, dim), rootA, dim);
  for (let i = 0; i < dim; i++) {
    for (let j = i + 1; j < dim; j++) {
      const avg = (product[i * dim + j]! + product[j * dim + i]!) / 2;
      product[i * dim + j] = product[j * dim + i] = avg;
    }
  }
  const { values } = symmetricEigen(product, dim);
  let traceRoot = 0;
  for (const value of values) traceRoot += Math.sqrt(Math.max(value, 0));
  let trace = 0;
  for (let i = 0; i < dim; i++) trace += a.covariance[i * dim + i]! + b.covariance[i * dim + i]!;
  return Math.max(0, meanTerm + trace - 2 * traceRoot);
}

function multiply(x: Float64Array, y: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let k = 0; k < dim; k++) {
      const xik = x[i * dim + k]!;
      if (xik === 0) continue;
      for (let j = 0; j < dim; j++) out[i * dim + j]! += xik * y[k * dim + j]!;
    }
  }
  return out;
}
