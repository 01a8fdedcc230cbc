// What running a generator means to its callers, and the one function that turns request parameters into images:
// the server's pool (serve/inference-pool.ts), eval's in-process runner (runtime/session-runner.ts) and any other
// Node caller go through generateImages, so a given (model, seed, n, class, truncation) always yields the same values.

import type { GenerateParams, OutputFormat } from '../common/generate-params.ts';
import { sampleLatents } from '../common/latents.ts';
import type { ModelManifest } from '../common/manifest.ts';
import type { TruncationMode } from '../common/truncation.ts';

/** One request's generator input: `count` latents (row-major) and, for a conditional model, one label each. */
export interface GeneratorInput {
  latent: Float32Array;
  labels: BigInt64Array | null;
  count: number;
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

export async function generateImages(
  runner: GeneratorRunner,
  model: { name: string; manifest: ModelManifest },
  params: GenerateParams,
  options: RunOptions = {},
): Promise<GeneratedImages> {
  const { manifest } = model;
  const latent = sampleLatents({
    latentDim: manifest.latentDim,
    count: params.n,
    seed: params.seed,
    truncation: params.truncation,
    truncationMode: params.truncationMode,
  });
  const labels = params.labels === null ? null : BigInt64Array.from(params.labels, (label) => BigInt(label));
  const output = await runner.run(model.name, { latent, labels, count: params.n }, options);
  const [height, width, channels] = manifest.imageShape;
  const expected = [params.n, height, width, channels];
  if (output.dims.length !== 4 || output.dims.some((d, i) => d !== expected[i])) {
    throw new Error(`model '${model.name}' returned shape [${output.dims.join(', ')}], its manifest promises [${expected.join(', ')}]`);
  }
  return { model: model.name, shape: [params.n, height, width, channels], data: output.data, seed: params.seed, labels: params.labels, range: manifest.valueRange };
}
