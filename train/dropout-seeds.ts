// Seeded dropout masks. tfjs's Dropout draws its mask from an unseeded generator unless the layer has a `seed`, and
// with a fixed `seed` it would draw the same mask at every step. So before each training-mode pass the stepper gives
// every Dropout layer a seed from the update's own stream (run seed, step key, call order): masks differ from step to
// step, yet a resumed run draws the very masks an uninterrupted one would. The layers' own seeds are put back after
// the update, so a checkpoint's model.json stays the architecture as built (and loads in older ganforge versions).

import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../common/random.ts';

/** Mixed into the run seed so the masks' stream never coincides with the latents' stream of the same key. */
const DROPOUT_STREAM_SALT = 0x5d1f0a7b;

/** The field tfjs's Dropout (and its spatial variants) passes to tf.dropout; public in JS, absent from the typings. */
interface SeedableDropout { seed?: number }

/** Every Dropout-like layer of `model`, nested models included. */
export function dropoutLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const found: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) found.push(...dropoutLayers(layer));
    else if (/Dropout/.test(layer.getClassName())) found.push(layer);
  }
  return found;
}

export class DropoutSeeds {
  private readonly byModel = new Map<tf.LayersModel, { layer: SeedableDropout; own: number | undefined }[]>();
  private random: SeededRandom | null = null;

  constructor(private readonly seed: number, models: tf.LayersModel[]) {
    for (const model of models) {
      const layers = dropoutLayers(model).map((layer) => ({ layer: layer as unknown as SeedableDropout, own: (layer as unknown as SeedableDropout).seed }));
      if (layers.length > 0) this.byModel.set(model, layers);
    }
  }

  /** Starts the stream of the update with random-stream `key`. */
  beginUpdate(key: number): void {
    this.random = this.byModel.size === 0 ? null : new SeededRandom((this.seed ^ DROPOUT_STREAM_SALT) >>> 0, key);
  }

  /** Before a training-mode pass of `model`: a fresh seed for each of its dropout layers, the next of the update's stream. */
  beforePass(model: tf.LayersModel): void {
    const layers = this.byModel.get(model);
    if (!layers || this.random === null) return;
    for (const { layer } of layers) layer.seed = this.random.nextUint32();
  }

  /** After the update: the layers' own seeds back. */
  endUpdate(): void {
    this.random = null;
    for (const layers of this.byModel.values()) for (const entry of layers) entry.layer.seed = entry.own;
  }
}
