// Style mixing at inference (stylegan-lite exports, manifest.styleMixing): the synthesis layers from `mixFrom` on take
// their style from a second latent, drawn from `mixSeed` exactly as the first is from `seed` (image k: stream k),
// so a seeded mix is as reproducible as a seeded image. Shared by the server, its workers, the page and eval.

import { sampleLatents } from './latents.ts';
import type { ModelManifest } from './manifest.ts';
import type { TruncationMode } from './truncation.ts';

/** A requested mix: the second latents' seed and the first synthesis layer that takes their style. */
export interface MixRequest {
  seed: number;
  from: number;
}

/** A style mix for a batch: the second latents (count × latentDim) and, per image, the first layer that takes them. */
export interface StyleMix {
  latent: Float32Array;
  from: Float32Array;
}

/** The crossover when only `mixSeed` is given: the coarse half of the layers (the base grid's) from `seed`, the fine half from `mixSeed`. */
export function defaultMixFrom(layers: number): number {
  return Math.floor(layers / 2);
}

/** The second latents and crossovers of `count` images for a mix request, drawn as the first latents are (same truncation plan). */
export function styleMixFor(manifest: Pick<ModelManifest, 'latentDim'>, mix: MixRequest, count: number, latentTruncation: number, latentMode: TruncationMode): StyleMix {
  return {
    latent: sampleLatents({ latentDim: manifest.latentDim, count, seed: mix.seed, truncation: latentTruncation, truncationMode: latentMode }),
    from: new Float32Array(count).fill(mix.from),
  };
}

/**
 * The feeds of a mixing model's two mixing inputs for `count` images: `mix` when given, else "no mixing" (the second
 * latent a copy of the first, the crossover past the last layer), so every consumer can run a mixing model unmixed.
 * [] for a model without mixing inputs. Plain arrays and shapes, so the server, the page and eval share it.
 */
export function styleMixingFeeds(manifest: Pick<ModelManifest, 'styleMixing' | 'latentDim'>, count: number, latent: Float32Array, mix: StyleMix | null = null): { name: string; data: Float32Array; dims: number[] }[] {
  const mixing = manifest.styleMixing;
  if (mixing === undefined) return [];
  const width = manifest.latentDim;
  if (mix !== null && (mix.latent.length !== count * width || mix.from.length !== count)) {
    throw new RangeError(`a style mix for ${count} images needs ${count * width} latent values and ${count} crossovers, got ${mix.latent.length} and ${mix.from.length}`);
  }
  return [
    { name: mixing.latentInput, data: mix?.latent ?? latent.slice(0, count * width), dims: [count, width] },
    { name: mixing.crossoverInput, data: mix?.from ?? new Float32Array(count).fill(mixing.layers), dims: [count, 1] },
  ];
}
