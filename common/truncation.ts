// The truncation trick, defined once for server and browser. `truncation` is a number in (0, 1]; 1 means no
// truncation in every mode, and lower values trade variety for fidelity. Every latent coordinate starts from the same
// seeded uniform u ∈ (0, 1), so moving the truncation slider pulls one and the same latent toward the origin.
//
//   'psi'      (default) StyleGAN's ψ pull toward the mean latent. In z-space the prior's mean is 0, so
//              z = ψ · Φ⁻¹(u): a plain variance shrink, std = ψ.
//   'resample' BigGAN's truncated normal: z ~ N(0, 1) restricted to |z| ≤ θ. Here `truncation` is the share of the
//              normal's mass kept, θ = Φ⁻¹((1 + t) / 2) (t = 0.7 → θ ≈ 1.04, t = 0.5 → θ ≈ 0.67), sampled exactly
//              by inverse CDF, z = Φ⁻¹((1 − t)/2 + t·u), which equals rejection resampling in distribution.
//
// What the number means also depends on the model (its manifest's `truncation.kind`, TRUNCATION_KINDS below): for a
// VAE's decoder it is the sampling temperature T, z ~ N(0, T²·I), which is exactly the 'psi' mode's z = T·Φ⁻¹(u), with
// T = 0 allowed (every seed then decodes z = 0, the prior's mean).

import { InvalidParameterError, describeValue } from './errors.ts';
import { inverseNormalCdf } from './random.ts';

export const TRUNCATION_MODES = ['psi', 'resample'] as const;
export type TruncationMode = (typeof TRUNCATION_MODES)[number];

/** The smallest accepted truncation: below it every sample collapses onto the mean latent. */
export const MIN_TRUNCATION = 0.01;

/**
 * What a model's `truncation` number means (the manifest's `truncation.kind`; absent = 'latent'):
 *   'latent'      the z-space truncation trick above, in the modes the manifest lists, t ∈ [MIN_TRUNCATION, 1];
 *   'temperature' a VAE decoder's sampling temperature T ∈ [0, 1], z ~ N(0, T²·I) (the 'psi' mode); T = 0 gives z = 0;
 *   'w-space'     a style generator's ψ ∈ [0, 1]: z is drawn untruncated and ψ goes to the graph input the manifest
 *                 names (`truncation.input`, float32 [batch, 1]), which computes w' = w̄ + ψ·(w − w̄) with the mean w̄
 *                 tracked in training; ψ = 0 gives the mean-w image (per class for a conditional model).
 */
export const TRUNCATION_KINDS = ['latent', 'temperature', 'w-space'] as const;
export type TruncationKind = (typeof TRUNCATION_KINDS)[number];

/** The smallest `truncation` a model of this kind accepts: a temperature may be 0, a truncation must keep some spread. */
export function lowestTruncation(kind: TruncationKind): number {
  return kind === 'latent' ? MIN_TRUNCATION : 0;
}

/** What a consumer does with one request's truncation: how to draw z, and the ψ to feed the graph (null: it takes none). */
export interface TruncationPlan {
  latentTruncation: number;
  latentMode: TruncationMode;
  psi: number | null;
}

/**
 * The one per-model decision, shared by the server's workers, eval and the page: a w-space model gets untruncated z
 * and ψ = `truncation` as its graph input; every other kind truncates z itself.
 */
export function planTruncation(kind: TruncationKind, truncation: number, mode: TruncationMode): TruncationPlan {
  if (kind === 'w-space') return { latentTruncation: 1, latentMode: 'psi', psi: truncation };
  return { latentTruncation: truncation, latentMode: mode, psi: null };
}

/** Maps one uniform u ∈ (0, 1) to a latent coordinate under the given truncation. */
export function truncatedCoordinate(u: number, truncation: number, mode: TruncationMode): number {
  if (mode === 'psi') return truncation * inverseNormalCdf(u);
  return inverseNormalCdf((1 - truncation) / 2 + truncation * u);
}

/** The largest |z| a coordinate can take: Infinity when nothing is cut (psi at any t, resample at t = 1). */
export function truncationThreshold(truncation: number, mode: TruncationMode): number {
  if (mode === 'psi' || truncation >= 1) return Infinity;
  return inverseNormalCdf((1 + truncation) / 2);
}

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** Validates a truncation value from a request or option (at least `min`, see lowestTruncation); returns it as a number. */
export function parseTruncation(value: unknown, parameter = 'truncation', min = MIN_TRUNCATION): number {
  // Decimal notation only: Number() would also accept '0b1', '0x1' and '0o1'.
  const t = typeof value === 'string' ? (DECIMAL.test(value) ? Number(value) : NaN) : value;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < min || t > 1) {
    throw new InvalidParameterError(parameter, `'${parameter}' must be a number in [${min}, 1] (1 = no truncation), got ${describeValue(value)}`);
  }
  return t;
}

export function parseTruncationMode(value: unknown, parameter = 'truncationMode'): TruncationMode {
  if (typeof value === 'string' && (TRUNCATION_MODES as readonly string[]).includes(value)) return value as TruncationMode;
  throw new InvalidParameterError(parameter, `'${parameter}' must be one of ${TRUNCATION_MODES.join(', ')}, got ${describeValue(value)}`);
}
