// The one browser-side file that imports onnxruntime-web. It owns the choice of execution provider (WebGPU when the
// browser offers an adapter, else wasm), where the runtime's .wasm/.mjs files come from (our own server, never a CDN)
// and how many wasm threads run, and it reports what actually runs: onnxruntime-web itself never says.

import type * as OrtModule from 'onnxruntime-web';
import { GanforgeError } from '../../common/errors.ts';

export type Ort = typeof OrtModule;
export type Backend = 'webgpu' | 'wasm';

export interface WebRuntimeOptions {
  /** 'auto' = WebGPU when the browser has an adapter, else wasm. Default 'auto'. */
  backend?: 'auto' | Backend;
  /** wasm threads: 0 = onnxruntime-web's choice (several when the page is cross-origin isolated, else 1). Default 0. */
  numThreads?: number;
  /**
   * URL folder holding onnxruntime-web's .wasm/.mjs files, ending in '/'. Default: the `ort/` folder next to the built
   * ganforge.js in a browser; onnxruntime-web's own package folder in Node.
   */
  wasmPaths?: string;
}

export interface WebSession {
  ort: Ort;
  session: OrtModule.InferenceSession;
  /** The execution provider the session was created with. */
  backend: Backend;
  /** wasm threads in use (1 when cross-origin isolation is missing, whatever was asked). */
  threads: number;
  /** Why WebGPU was not used when it was asked for or auto-detected, else undefined. */
  fallbackReason: string | undefined;
}

// A page or a Web Worker (web/src/inference-worker.ts): both fetch the runtime's files over HTTP, not from node_modules.
const isBrowser = typeof document !== 'undefined' || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

// env.wasm.* is read once, when the first session initialises a backend; later values are ignored. So the first caller's
// thread count and file location win, and a different request later is reported back rather than silently dropped.
let configured: { numThreads: number; wasmPaths: string | undefined } | undefined;

/** Creates an inference session for a generator's bytes on the best backend allowed by `options`. */
export async function createWebSession(model: Uint8Array, options: WebRuntimeOptions = {}): Promise<WebSession> {
  const { backend = 'auto', numThreads = 0 } = options;
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'wasm') {
    throw new RangeError(`'backend' must be 'auto', 'webgpu' or 'wasm', got ${String(backend)}`);
  }
  if (!Number.isInteger(numThreads) || numThreads < 0) throw new RangeError(`'numThreads' must be a non-negative integer, got ${numThreads}`);
  const wasmPaths = options.wasmPaths ?? (isBrowser ? defaultWasmPaths() : undefined);
  if (wasmPaths !== undefined && !wasmPaths.endsWith('/')) {
    throw new RangeError(`'wasmPaths' must be a folder URL ending in '/', got ${wasmPaths}`);
  }

  let fallbackReason: string | undefined;
  let useWebGpu = false;
  if (backend !== 'wasm') {
    const gpu = (globalThis.navigator as (Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }) | undefined)?.gpu;
    if (gpu === undefined) {
      fallbackReason = 'this browser has no WebGPU (navigator.gpu is missing)';
    } else {
      try {
        useWebGpu = (await gpu.requestAdapter()) !== null;
        if (!useWebGpu) fallbackReason = 'WebGPU offers no adapter here (no GPU, or it is disabled)';
      } catch (error) {
        fallbackReason = `WebGPU adapter request failed (${firstLine(error)})`;
      }
    }
  }
  // Two builds: the WebGPU one carries a 27 MB wasm, the plain one 14 MB; a page without a GPU never fetches the larger.
  const ort: Ort = useWebGpu ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm');
  configure(ort, numThreads, wasmPaths);

  const create = (providers: Backend[]) => ort.InferenceSession.create(model, { executionProviders: providers, graphOptimizationLevel: 'all' });
  if (useWebGpu) {
    try {
      return { ort, session: await create(['webgpu']), backend: 'webgpu', threads: threadsInUse(ort), fallbackReason: undefined };
    } catch (error) {
      fallbackReason = `WebGPU session failed (${firstLine(error)})`;
    }
  }
  if (backend === 'webgpu') {
    throw new GanforgeError('INVALID_PARAMETER', `backend 'webgpu' was asked for but cannot run: ${fallbackReason}; use backend 'auto' or 'wasm'`, { parameter: 'backend' });
  }
  let session: OrtModule.InferenceSession;
  try {
    session = await create(['wasm']);
  } catch (cause) {
    throw new GanforgeError('INVALID_MODEL', `onnxruntime-web cannot load the model (${firstLine(cause)})`, { cause });
  }
  return { ort, session, backend: 'wasm', threads: threadsInUse(ort), fallbackReason };
}

function configure(ort: Ort, numThreads: number, wasmPaths: string | undefined): void {
  if (configured === undefined) {
    configured = { numThreads, wasmPaths };
    if (numThreads > 0) ort.env.wasm.numThreads = numThreads;
    if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
  }
  // Both builds share one configuration; the second build loaded needs it too.
  if (configured.numThreads > 0) ort.env.wasm.numThreads = configured.numThreads;
  if (configured.wasmPaths !== undefined) ort.env.wasm.wasmPaths = configured.wasmPaths;
}

/** Threads the wasm backend runs with: onnxruntime-web writes its resolved count (1 without isolation) back to env. */
function threadsInUse(ort: Ort): number {
  const resolved = ort.env.wasm.numThreads;
  return typeof resolved === 'number' && resolved > 0 ? resolved : 1;
}

/** The `ort/` folder next to this module: the build copies onnxruntime-web's files there, beside ganforge.js. */
function defaultWasmPaths(): string {
  return new URL('./ort/', import.meta.url).href;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
}
