// Seeded randomness that gives the same numbers, bit for bit, in Node and in any browser. Only integer ops and the
// IEEE-754 basic operations (+ − × ÷ √, all correctly rounded in every JS engine) are used: Math.log/exp/cos are
// implementation-defined in ECMAScript, so the logarithm the normal sampler needs is written out here.

/** The largest seed accepted: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffffffff;

const LN2 = 0.6931471805599453;
const SQRT1_2 = 0.7071067811865476;

/** Natural logarithm from basic operations only, accurate to ~1 ulp for positive finite x (the sampler's domain). */
export function deterministicLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`deterministicLog needs a positive finite number, got ${x}`);
  // Bring x into [1/√2, √2) by exact multiplications by two, counting the exponent.
  let exponent = 0;
  let m = x;
  while (m >= 2 * SQRT1_2 * 2 ** 32) { m /= 2 ** 32; exponent += 32; }
  while (m < SQRT1_2 / 2 ** 32) { m *= 2 ** 32; exponent -= 32; }
  while (m >= 2 * SQRT1_2) { m /= 2; exponent += 1; }
  while (m < SQRT1_2) { m *= 2; exponent -= 1; }
  // ln m = 2·atanh(f), f = (m−1)/(m+1), |f| ≤ 0.172: the odd series to f^23 is below double precision.
  const f = (m - 1) / (m + 1);
  const f2 = f * f;
  let series = 1 / 23;
  for (let k = 21; k >= 1; k -= 2) series = 1 / k + f2 * series;
  return exponent * LN2 + 2 * f * series;
}

/** splitmix32 finaliser: spreads a 32-bit value over all bits (used to seed and to derive per-image streams). */
function mix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * xoshiro128** generator. One instance per (seed, stream): stream k is image k of a request, so image k of a batch
 * is the same whether it was asked for alone or among others.
 */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    assertSeed(seed, 'seed');
    if (!Number.isInteger(stream) || stream < 0 || stream > MAX_SEED) {
      throw new RangeError(`'stream' must be an integer in [0, ${MAX_SEED}], got ${stream}`);
    }
    let h = mix32(seed ^ mix32(stream));
    this.s0 = h = mix32(h);
    this.s1 = h = mix32(h);
    this.s2 = h = mix32(h);
    this.s3 = mix32(h) | 1; // never the all-zero state
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in the open interval (0, 1), 53-bit resolution. */
  nextOpenUnit(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Throws a RangeError/TypeError naming `name` unless `seed` is an integer in [0, MAX_SEED]. */
export function assertSeed(seed: unknown, name = 'seed'): asserts seed is number {
  if (typeof seed !== 'number') throw new TypeError(`'${name}' must be a number, got ${typeof seed}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`'${name}' must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  }
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9, far below float32
 * resolution), built on deterministicLog so that it is bit-identical across engines.
 */
export function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`inverseNormalCdf needs p in (0, 1), got ${p}`);
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * deterministicLog(p));
    return (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  if (p > 1 - pLow) return -inverseNormalCdf(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
    (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239] as const;
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1] as const;
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137625875, 3.754408661907416] as const;
