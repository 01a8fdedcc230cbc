// What a Generator runs its inferences on: an onnxruntime-web session in this thread, or one inside a Web Worker
// (web/src/worker-runner.ts). The Generator samples and validates; the runner only turns latents into images.

import type { StyleMix } from '../../common/style-mixing.ts';
import type { Backend } from './ort-web.ts';

/** Where inference runs: inside a dedicated Web Worker, or on the thread that called loadGenerator. */
export type InferenceThread = 'worker' | 'page';

export interface GeneratorRunner {
  /** The execution provider the session was created with. */
  readonly backend: Backend;
  /** wasm threads in use. */
  readonly threads: number;
  /** Why WebGPU is not in use, when it was considered. */
  readonly fallbackReason: string | undefined;
  readonly thread: InferenceThread;
  /**
   * Runs the session: `latent` holds count × latentDim values, `labels` one class per image (or null), `psi` a w-space
   * model's ψ per image (null or absent: 1; other models ignore it), `mix` a style-mixing model's second latents and
   * crossovers (null or absent: no mixing).
   */
  run(latent: Float32Array, labels: readonly number[] | null, count: number, psi?: Float32Array | null, mix?: StyleMix | null): Promise<Float32Array>;
  /** Frees the session (and the worker). */
  release(): Promise<void>;
}

export interface LoadProgress {
  /** Bytes received so far. */
  loaded: number;
  /** Content-Length of the model, or null when the server does not say. */
  total: number | null;
}
