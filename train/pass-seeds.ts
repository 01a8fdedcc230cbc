// Seeds for the randomness inside a training pass: dropout masks, and the style generator's noise, second latent and
// mixing decisions. tfjs's Dropout draws its mask from an unseeded generator unless the layer has a `seed`, and with a
// fixed `seed` it would draw the same mask at every step; the style layers count their calls in memory, and the count
// starts again at 0 when a checkpoint is loaded. So before each training-mode pass the stepper gives every such layer
// a seed from the update's own stream (run seed, step key, call order): the draws differ from step to step, yet a
// resumed run draws the very masks and noise an uninterrupted one would. Dropout layers get their own seeds back
// after the update, so a checkpoint's model.json stays the architecture as built (and loads in older ganforge
// versions); a style layer's configured seed is never changed.

import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../common/random.ts';
import { isCallSeeded, type CallSeededLayer } from './models/layers/layer-random.ts';

/** Mixed into the run seed so the masks' stream never coincides with the latents' stream of the same key. */
const PASS_STREAM_SALT = 0x5d1f0a7b;

/** The field tfjs's Dropout (and its spatial variants) passes to tf.dropout; public in JS, absent from the typings. */
interface SeedableDropout { seed?: number }

type SeededLayer =
  | { kind: 'dropout'; layer: SeedableDropout; own: number | undefined }
  | { kind: 'calls'; layer: CallSeededLayer };

/** Every layer of `model` that draws randomness in training (Dropout-like or call-seeded), nested models included, in order. */
export function randomLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const found: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) found.push(...randomLayers(layer));
    else if (/Dropout/.test(layer.getClassName()) || isCallSeeded(layer)) found.push(layer);
  }
  return found;
}

export class PassSeeds {
  private readonly byModel = new Map<tf.LayersModel, SeededLayer[]>();
  private random: SeededRandom | null = null;

  constructor(private readonly seed: number, models: tf.LayersModel[]) {
    for (const model of models) {
      const layers = randomLayers(model).map((layer): SeededLayer => isCallSeeded(layer)
        ? { kind: 'calls', layer }
        : { kind: 'dropout', layer: layer as unknown as SeedableDropout, own: (layer as unknown as SeedableDropout).seed });
      if (layers.length > 0) this.byModel.set(model, layers);
    }
  }

  /** Starts the stream of the update with random-stream `key`. */
  beginUpdate(key: number): void {
    this.random = this.byModel.size === 0 ? null : new SeededRandom((this.seed ^ PASS_STREAM_SALT) >>> 0, key);
  }

  /** Before a training-mode pass of `model`: a fresh seed for each of its random layers, the next of the update's stream. */
  beforePass(model: tf.LayersModel): void {
    const layers = this.byModel.get(model);
    if (!layers || this.random === null) return;
    for (const entry of layers) {
      const seed = this.random.nextUint32();
      if (entry.kind === 'dropout') entry.layer.seed = seed;
      else entry.layer.callSeeds.restart(seed);
    }
  }

  /** After the update: the dropout layers' own seeds back. */
  endUpdate(): void {
    this.random = null;
    for (const layers of this.byModel.values()) for (const entry of layers) if (entry.kind === 'dropout') entry.layer.seed = entry.own;
  }
}
