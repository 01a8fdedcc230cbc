// The messages between a page and its inference worker (web/src/inference-worker.ts), and how errors cross the
// boundary: structured clone drops an Error's class and code, so they travel as plain data and are rebuilt as the
// same classes (GanforgeError with its code, InvalidParameterError, RangeError, TypeError) on the other side.

import { GanforgeError, InvalidParameterError, type ErrorCode } from '../../common/errors.ts';
import type { ModelManifest } from '../../common/manifest.ts';
import type { StyleMix } from '../../common/style-mixing.ts';
import type { Backend } from './ort-web.ts';

/** The runtime options that the worker's session is created with (the page's LoadGeneratorOptions, minus callbacks). */
export interface WorkerRuntimeOptions {
  backend: 'auto' | Backend;
  numThreads: number;
  /** Always set by the page: a worker script's own URL is no guide to where the ort/ files are. */
  wasmPaths: string;
  /** Model name reported in results. */
  name: string | undefined;
}

export type PageToWorker =
  /** `url` is absolute (resolved against the page, not the worker script); `bytes` is transferred. */
  | { type: 'load'; id: number; url: string | undefined; bytes: ArrayBuffer | undefined; options: WorkerRuntimeOptions; progress: boolean }
  | { type: 'abort'; id: number }
  | { type: 'run'; id: number; latent: Float32Array; labels: number[] | null; count: number; psi: Float32Array | null; mix: StyleMix | null }
  | { type: 'release'; id: number };

export type WorkerToPage =
  | { type: 'progress'; id: number; loaded: number; total: number | null }
  | { type: 'loaded'; id: number; name: string; manifest: ModelManifest; backend: Backend; threads: number; fallbackReason: string | undefined }
  | { type: 'result'; id: number; data: Float32Array }
  | { type: 'released'; id: number }
  | { type: 'failed'; id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  code: ErrorCode | undefined;
  parameter: string | undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof GanforgeError) return { name: error.name, message: error.message, code: error.code, parameter: error.parameter };
  if (error instanceof Error) return { name: error.name, message: error.message, code: undefined, parameter: undefined };
  return { name: 'Error', message: String(error), code: undefined, parameter: undefined };
}

export function deserializeError(error: SerializedError): Error {
  if (error.name === 'InvalidParameterError' && error.parameter !== undefined) return new InvalidParameterError(error.parameter, error.message);
  if (error.code !== undefined) return new GanforgeError(error.code, error.message, error.parameter === undefined ? {} : { parameter: error.parameter });
  if (error.name === 'RangeError') return new RangeError(error.message);
  if (error.name === 'TypeError') return new TypeError(error.message);
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  return rebuilt;
}
