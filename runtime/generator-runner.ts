// What running a generator means to its callers, and the one function that turns request parameters into images:
// the server's pool (serve/inference-pool.ts), eval's in-process runner (runtime/session-runner.ts) and any other
// Node caller go through generateImages, so a given (model, seed, n, class, truncation) always yields the same values.

import type { GenerateParams, OutputFormat } from '../common/generate-params.ts';
import { sampleLatents } from '../common/latents.ts';
import { truncationKindOf, type ModelManifest } from '../common/manifest.ts';
import { styleMixFor, type MixRequest, type StyleMix } from '../common/style-mixing.ts';
import { planTruncation, type TruncationMode } from '../common/truncation.ts';

/** One request's generator input: `count` latents (row-major) and, for a conditional model, one label each. */
export interface GeneratorInput {
  latent: Float32Array;
  labels: BigInt64Array | null;
  count: number;
  /** A w-space model's ψ, one per image (its manifest's truncation.input). Absent or null: 1 (no truncation). */
  psi?: Float32Array | null;
  /** A style-mixing model's second latents and crossovers (common/style-mixing.ts StyleMix). Absent or null: no mixing. */
  mix?: StyleMix | null;
}

export interface GeneratorOutput {
  /** NHWC values, `count` images. */
  data: Float32Array;
  dims: number[];
}

/**
 * A request the runner completes by itself: it draws the latents from the seed (common/latents.ts, exactly as
 * generateImages does) and encodes the images, so the HTTP thread only parses, queues and writes. Measured on the
 * 2-core machine: drawing and PNG-encoding one 28×28 image costs the HTTP thread ~60 µs of its ~240 µs per request.
 */
export interface RenderRequest {
  count: number;
  seed: number;
  truncation: number;
  truncationMode: TruncationMode;
  /** One label per image for a conditional model, else null. */
  labels: readonly number[] | null;
  format: OutputFormat;
  /** A style-mixing model's mix (its second latents drawn in the worker like the first); absent or null: none. */
  mix?: MixRequest | null;
}

export interface EncodedImages {
  body: Uint8Array;
  contentType: string;
}

/** What a runner reads of an AbortSignal: an AbortSignal fits, and serve/app.ts passes a cheaper one per request. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface RunOptions {
  /** Aborting drops the request if it is still queued (e.g. the HTTP client went away); a running batch finishes. Default: none. */
  signal?: CancelSignal;
}

/** Anything that runs a generator: the server's pool, or a direct in-process runner. */
export interface GeneratorRunner {
  run(model: string, input: GeneratorInput, options?: RunOptions): Promise<GeneratorOutput>;
  /** Latents, inference and encoding in one step off the calling thread (the pool has it; serve/generate.ts falls back to run()). */
  render?(model: string, request: RenderRequest, options?: RunOptions): Promise<EncodedImages>;
}

export interface GeneratedImages {
  model: string;
  /** [n, height, width, channels]. */
  shape: [number, number, number, number];
  /** NHWC generator output, in the model's value range. */
  data: Float32Array;
  seed: number;
  /** Label of each image for a conditional model, else null. */
  labels: number[] | null;
  /** The model's output value range. */
  range: [number, number];
}

/** A w-space model's ψ feed: the caller's, or 1 (no truncation) per image. */
export function psiRows(psi: Float32Array | null | undefined, count: number): Float32Array {
  if (psi === undefined || psi === null) return new Float32Array(count).fill(1);
  if (psi.length !== count) throw new RangeError(`run: ${count} images need ${count} ψ values, got ${psi.length}`);
  return psi;
}

export async function generateImages(
  runner: GeneratorRunner,
  model: { name: string; manifest: ModelManifest },
  params: GenerateParams,
  options: RunOptions = {},
): Promise<GeneratedImages> {
  const { manifest } = model;
  // A w-space model takes untruncated z and ψ as an input; every other model truncates z.
  const plan = planTruncation(truncationKindOf(manifest), params.truncation, params.truncationMode);
  const latent = sampleLatents({
    latentDim: manifest.latentDim,
    count: params.n,
    seed: params.seed,
    truncation: plan.latentTruncation,
    truncationMode: plan.latentMode,
  });
  const labels = params.labels === null ? null : BigInt64Array.from(params.labels, (label) => BigInt(label));
  const psi = plan.psi === null ? null : new Float32Array(params.n).fill(plan.psi);
  const mix = params.mix ? styleMixFor(manifest, params.mix, params.n, plan.latentTruncation, plan.latentMode) : null;
  const output = await runner.run(model.name, { latent, labels, count: params.n, psi, mix }, options);
  const [height, width, channels] = manifest.imageShape;
  const expected = [params.n, height, width, channels];
  if (output.dims.length !== 4 || output.dims.some((d, i) => d !== expected[i])) {
    throw new Error(`model '${model.name}' returned shape [${output.dims.join(', ')}], its manifest promises [${expected.join(', ')}]`);
  }
  return { model: model.name, shape: [params.n, height, width, channels], data: output.data, seed: params.seed, labels: params.labels, range: manifest.valueRange };
}
