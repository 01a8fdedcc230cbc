// Picks the tfjs backend the trainer runs on. This is the ONLY file that imports a backend package: native TensorFlow
// (@tensorflow/tfjs-node, an optional dependency whose install downloads libtensorflow and often cannot), then the wasm
// backend (with our kernel fixes, see train/wasm-kernels.ts), then plain-JS cpu. Every other file imports
// '@tensorflow/tfjs' only. The result says which backend runs, on how many threads, and why each better option was
// skipped. wasm runs its threaded SIMD build on every core by default: stock tfjs never loads it in Node, so
// scripts/patch-tfjs-wasm.mjs (npm's postinstall) adapts the package, and this file falls back to the single-threaded
// SIMD build, saying why, whenever threads cannot start.

import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type * as WasmBackendPackage from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes, type WasmKernelFixOptions } from './wasm-kernels.ts';

type WasmPackage = typeof WasmBackendPackage;

export const BACKEND_PREFERENCES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];
export type BackendName = Exclude<BackendPreference, 'auto'>;
/** Which of tfjs-backend-wasm's three binaries runs. */
export type WasmBuild = 'threaded-simd' | 'simd' | 'plain';

export interface SelectBackendOptions {
  /** 'auto' tries tensorflow → wasm → cpu; a named backend is tried first, then the ones after it. Default 'auto'. */
  prefer?: BackendPreference;
  /** Kernel fixes for wasm (all on by default; the benchmark turns them off for its baseline). */
  wasmKernelFixes?: WasmKernelFixOptions | false;
  /**
   * Threads for the wasm backend: 'auto' = os.availableParallelism(); 1 = the single-threaded SIMD build; more = the
   * threaded SIMD build (tfjs caps it at min(8, cores)). Asking for a count other than the one an already initialised
   * wasm backend runs re-creates that backend, which drops every tensor held on it. Default 'auto'.
   */
  wasmThreads?: number | 'auto';
}

export interface SelectedBackend {
  /** The backend tfjs now runs on. */
  name: BackendName;
  /** Better backends that were not used, with the reason. */
  skipped: { backend: BackendName; reason: string }[];
  /** Threads the backend computes on: wasm's pool size (1 when single-threaded), cpu 1, tensorflow the cores. */
  threads: number;
  /** The wasm binary in use (wasm only). */
  wasmBuild?: WasmBuild;
  /** Why wasm runs on fewer threads than asked, if it does. */
  notes: string[];
}

const ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
/** tfjs-backend-wasm registers itself with this priority; a re-created backend keeps it. */
const WASM_PRIORITY = 2;
/** tfjs-backend-wasm's cap on its thread pool (max_num_threads in its backend.cc). */
const MAX_WASM_THREADS = 8;
/** The first line scripts/patch-tfjs-wasm.mjs writes (its PATCH_MARKER): keep the two in step. */
const PATCH_MARKER = '/* ganforge:node-threads v1 */';
/** wasm-feature-detect's threads probe (the one tfjs runs in browsers): a module with a shared memory and an atomic. */
const WASM_THREADS_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
]);

/** How to get the native backend, for the skip reason the CLI prints. */
export const NATIVE_BACKEND_HINT =
  "install it with 'npm install @tensorflow/tfjs-node' on a machine that can download its libtensorflow binary";

/** Makes the best available backend current and reports the choice. Throws only if even cpu cannot start. */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<SelectedBackend> {
  const { prefer = 'auto', wasmKernelFixes = {}, wasmThreads = 'auto' } = options;
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(prefer)) {
    throw new RangeError(`'prefer' must be one of ${BACKEND_PREFERENCES.join(', ')}, got ${String(prefer)}`);
  }
  const threads = resolveWasmThreads(wasmThreads);
  const candidates = prefer === 'auto' ? ORDER : ORDER.slice(ORDER.indexOf(prefer));
  const skipped: SelectedBackend['skipped'] = [];
  for (const name of candidates) {
    const notes: string[] = [];
    const failure = await tryBackend(name, wasmKernelFixes, threads, notes);
    if (failure === null) return { name, skipped, ...(await threadReport(name)), notes };
    skipped.push({ backend: name, reason: failure });
  }
  throw new Error(`no tfjs backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

function resolveWasmThreads(value: number | 'auto'): number {
  if (value === 'auto') return availableParallelism();
  if (typeof value !== 'number') throw new TypeError(`'wasmThreads' must be a positive integer or 'auto', got ${typeof value}`);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`'wasmThreads' must be a positive integer or 'auto', got ${value}`);
  }
  return value;
}

/** Returns null when `name` is now the current backend, else why it could not be. */
async function tryBackend(name: BackendName, fixes: WasmKernelFixOptions | false, threads: number, notes: string[]): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // A variable specifier keeps TypeScript from requiring the optional package's types at build time.
      const nativePackage = '@tensorflow/tfjs-node';
      await import(nativePackage);
      if (tf.findBackendFactory('tensorflow') === null) {
        return `${nativePackage} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs (version mismatch?)`;
      }
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (fixes !== false) installWasmKernelFixes(fixes);
      return await startWasm(wasm, threads, notes);
    }
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') failed to initialise`;
    await tf.ready();
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (name === 'tensorflow' && (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')) {
      return `@tensorflow/tfjs-node is not installed (${NATIVE_BACKEND_HINT})`;
    }
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    return name === 'tensorflow' ? `@tensorflow/tfjs-node failed to load: ${message} (${NATIVE_BACKEND_HINT})` : message;
  }
}

/** Makes wasm current on `threads` threads, or on one with the reason in `notes`; null on success, else the failure. */
async function startWasm(wasm: WasmPackage, threads: number, notes: string[]): Promise<string | null> {
  // backend.cc caps the pool at min(8, cores) (cores as the patch reports them); asking for the capped count keeps a
  // repeated selectBackend from re-creating the backend each time.
  let want = threads > 1 ? Math.min(threads, MAX_WASM_THREADS, availableParallelism()) : 1;
  if (want < threads) notes.push(`asked for ${threads} wasm threads, tfjs-backend-wasm runs at most ${want} here`);
  if (want > 1) {
    const why = wasmThreadsUnavailable();
    if (why !== null) {
      notes.push(`wasm threads off: ${why}`);
      want = 1;
    }
  }
  if (await initWasm(wasm, want)) return null;
  if (want === 1) return "tf.setBackend('wasm') failed to initialise";
  notes.push('wasm threads off: the threaded SIMD build failed to initialise (tfjs logged why above)');
  return (await initWasm(wasm, 1)) ? null : "tf.setBackend('wasm') failed to initialise";
}

/** setBackend('wasm') with `threads`, re-creating the backend when it was initialised with another count. */
async function initWasm(wasm: WasmPackage, threads: number): Promise<boolean> {
  if (tf.findBackend('wasm') !== null && wasm.getThreadsCount() !== threads) {
    const factory = tf.findBackendFactory('wasm');
    tf.removeBackend('wasm'); // disposes it, which also terminates its pthread workers
    tf.registerBackend('wasm', factory, WASM_PRIORITY);
  }
  // Read by tfjs when the backend initialises: which binary to load, and the size of XNNPACK's thread pool.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
  wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) return false;
  await tf.ready();
  return true;
}

let patched: boolean | undefined;

/** Why the threaded build cannot run in this process, or null when it can. */
function wasmThreadsUnavailable(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is not available (node started with --no-harmony-sharedarraybuffer?)';
  }
  if (!WebAssembly.validate(WASM_THREADS_PROBE)) return "this Node's WebAssembly has no threads support";
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  patched ??= readFileSync(main, 'utf8').startsWith(PATCH_MARKER);
  if (!patched) {
    return `${main} is not patched for Node threads (run 'node scripts/patch-tfjs-wasm.mjs'; npm install runs it)`;
  }
  const glue = join(dirname(main), '../wasm-out/tfjs-backend-wasm-threaded-simd.js');
  if (!existsSync(glue)) return `${glue}, which the pthread workers load, is missing`;
  return null;
}

async function threadReport(name: BackendName): Promise<Pick<SelectedBackend, 'threads' | 'wasmBuild'>> {
  if (name === 'cpu') return { threads: 1 };
  // libtensorflow sizes its intra-op pool to the cores unless told otherwise.
  if (name === 'tensorflow') return { threads: availableParallelism() };
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const threads = wasm.getThreadsCount();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return { threads, wasmBuild: threads > 1 ? 'threaded-simd' : simd ? 'simd' : 'plain' };
}

const BUILD_LABELS: Record<WasmBuild, string> = { 'threaded-simd': 'threaded SIMD build', simd: 'SIMD build', plain: 'plain build' };

/** One line for logs: "tfjs backend: wasm, 2 threads (threaded SIMD build; skipped tensorflow: ...)". */
export function describeBackend(selected: SelectedBackend): string {
  const head = selected.name === 'wasm' ? `wasm, ${selected.threads} thread${selected.threads === 1 ? '' : 's'}` : selected.name;
  const details = [
    ...(selected.wasmBuild ? [BUILD_LABELS[selected.wasmBuild]] : []),
    ...selected.notes,
    ...selected.skipped.map((s) => `skipped ${s.backend}: ${s.reason}`),
  ];
  return `tfjs backend: ${head}${details.length ? ` (${details.join('; ')})` : ''}`;
}
