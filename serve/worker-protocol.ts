// The messages between the inference pool (HTTP thread) and its worker threads (serve/inference-worker.ts), in one
// file both import, so neither imports the other.

import type { StyleMixingInputs } from '../common/manifest.ts';
import type { StyleMix } from '../common/style-mixing.ts';
import type { TruncationKind } from '../common/truncation.ts';
import type { RenderRequest } from '../runtime/generator-runner.ts';
import type { Device } from '../runtime/ort-node.ts';
import type { PayloadPart } from './batch-payload.ts';

export interface WorkerModel {
  /** Version key: sessions and run messages are keyed by it, never by name. */
  version: string;
  name: string;
  bytes: Uint8Array;
  device: Device;
  latentDim: number;
  latent: string;
  label: string | null;
  output: string;
  /** The manifest's truncation kind: the worker plans each render part's latents and ψ by it (common/truncation.ts). */
  truncationKind: TruncationKind;
  /** A w-space model's ψ input (float32 [batch, 1]); null when the graph takes none. */
  psiInput: string | null;
  /** A style-mixing model's mixing inputs (the manifest's styleMixing); absent when the graph takes none. */
  styleMixing?: StyleMixingInputs;
  /** For rendering in the worker: [H, W, C] and the output value range of the manifest. */
  imageShape: [number, number, number];
  valueRange: [number, number];
}
export interface WorkerInit {
  models: WorkerModel[];
  intraOpNumThreads: number;
  allowSpinning: boolean;
}
export interface SessionReport {
  provider: string;
  fallbackReason: string | undefined;
  warmupMs: number;
}
/** One request's share of a batch: its latents, or what the worker needs to draw them and encode the result. */
export type RunPart = { count: number; latent: Float32Array; psi?: Float32Array; mix?: StyleMix } | { count: number; render: RenderRequest };
export type MainToWorker =
  | { type: 'run'; id: number; version: string; parts: RunPart[]; labels: BigInt64Array | null; count: number }
  | { type: 'load'; model: WorkerModel }
  | { type: 'unload'; version: string }
  | { type: 'exit'; code: number }
  // Fault injection for recovery tests (InferencePool.killWorker / stallWorker).
  | { type: 'fault'; fault: 'throw-in-run' }
  | { type: 'stall'; signal: SharedArrayBuffer };
export type WorkerToMain =
  | { type: 'ready'; providers: Record<string, SessionReport> }
  | { type: 'init-error'; message: string }
  | ({ type: 'loaded'; version: string } & SessionReport)
  | { type: 'load-error'; version: string; message: string }
  | { type: 'result'; id: number; payload: ArrayBuffer; parts: PayloadPart[]; dims: number[] }
  | { type: 'error'; id: number; message: string };

