// Seeded randomness for the style generator's training-only layers (noise, the second latent, mixing decisions): each
// training-mode call draws from its own stream of the layer's configured seed, so a run's batches are a function of
// the run seed and the call count, never of Math.random. Inference never draws.

import { SeededRandom } from '../../../common/random.ts';

/** Hands out one tfjs random seed per call: stream `count` of `seed`. */
export class CallSeeds {
  private count = 0;
  constructor(private readonly seed: number) {}
  next(): number {
    return new SeededRandom(this.seed >>> 0, this.count++).nextUint32();
  }
}
