// Seeded randomness for the style generator's training-only layers (noise, the second latent, mixing decisions): each
// training-mode call draws from its own stream of the layer's configured seed, so a run's batches are a function of
// the run seed and the call count, never of Math.random. Inference never draws.
// A call count lives in memory and starts again at 0 when a checkpoint is loaded, so the trainer restarts every such
// layer's streams before each training pass from the update's own stream (train/pass-seeds.ts): a resumed run then
// draws the very noise an uninterrupted one would.

import { SeededRandom } from '../../../common/random.ts';

/** Hands out one tfjs random seed per call: stream `count` of `seed`. */
export class CallSeeds {
  private count = 0;
  constructor(private seed: number) {}
  next(): number {
    return new SeededRandom(this.seed >>> 0, this.count++).nextUint32();
  }
  /** Continues from stream 0 of `seed` (the trainer's per-pass seed). */
  restart(seed: number): void {
    this.seed = seed;
    this.count = 0;
  }
}

/** A layer whose training-mode calls draw from CallSeeds. */
export interface CallSeededLayer {
  readonly callSeeds: CallSeeds;
}

export function isCallSeeded(layer: unknown): layer is CallSeededLayer {
  return typeof layer === 'object' && layer !== null && (layer as Partial<CallSeededLayer>).callSeeds instanceof CallSeeds;
}
