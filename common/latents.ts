// Seeded latent sampling shared by trainer, server and browser: a (seed, index) pair always gives the same latent
// vector, so image k of a 16-image grid equals the single image asked for with the same seed and index k.

import { SeededRandom } from './random.ts';
import { truncatedCoordinate, type TruncationMode } from './truncation.ts';

export interface LatentRequest {
  /** Latent vector length (the generator's `z` width). */
  latentDim: number;
  /** Number of latent vectors. */
  count: number;
  /** Unsigned 32-bit seed. */
  seed: number;
  /** Index of the first vector in the seed's sequence. Default 0. */
  firstIndex?: number;
  /** In (0, 1]; 1 = no truncation. Default 1. */
  truncation?: number;
  /** How truncation is applied. Default 'psi'. */
  truncationMode?: TruncationMode;
}

/** Returns `count × latentDim` float32 values, row-major (one row per image). */
export function sampleLatents(request: LatentRequest): Float32Array {
  const { latentDim, count, seed, firstIndex = 0, truncation = 1, truncationMode = 'psi' } = request;
  if (!Number.isInteger(latentDim) || latentDim < 1) throw new RangeError(`'latentDim' must be a positive integer, got ${latentDim}`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`'count' must be a non-negative integer, got ${count}`);
  const out = new Float32Array(count * latentDim);
  for (let i = 0; i < count; i++) {
    const random = new SeededRandom(seed, firstIndex + i);
    for (let j = 0; j < latentDim; j++) {
      out[i * latentDim + j] = truncatedCoordinate(random.nextOpenUnit(), truncation, truncationMode);
    }
  }
  return out;
}

/** A fresh random seed for requests that do not give one (the response reports it, so the result can be repeated). */
export function randomSeed(): number {
  const buffer = new Uint32Array(1);
  globalThis.crypto.getRandomValues(buffer);
  return buffer[0]!;
}
