// Picks the tfjs backend the trainer runs on. This is the ONLY file that imports a backend package: native TensorFlow
// (@tensorflow/tfjs-node, an optional dependency whose install downloads libtensorflow and often cannot), then the wasm
// backend (with our kernel fixes, see train/wasm-kernels.ts), then plain-JS cpu. Every other file imports
// '@tensorflow/tfjs' only. The result says which backend runs and why each better one was skipped.

import * as tf from '@tensorflow/tfjs';
import { installWasmKernelFixes, type WasmKernelFixOptions } from './wasm-kernels.ts';

export const BACKEND_PREFERENCES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];
export type BackendName = Exclude<BackendPreference, 'auto'>;

export interface SelectBackendOptions {
  /** 'auto' tries tensorflow → wasm → cpu; a named backend is tried first, then the ones after it. Default 'auto'. */
  prefer?: BackendPreference;
  /** Kernel fixes for wasm (all on by default; the benchmark turns them off for its baseline). */
  wasmKernelFixes?: WasmKernelFixOptions | false;
}

export interface SelectedBackend {
  /** The backend tfjs now runs on. */
  name: BackendName;
  /** Better backends that were not used, with the reason. */
  skipped: { backend: BackendName; reason: string }[];
}

const ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** How to get the native backend, for the skip reason the CLI prints. */
export const NATIVE_BACKEND_HINT =
  "install it with 'npm install @tensorflow/tfjs-node' on a machine that can download its libtensorflow binary";

/** Makes the best available backend current and reports the choice. Throws only if even cpu cannot start. */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<SelectedBackend> {
  const { prefer = 'auto', wasmKernelFixes = {} } = options;
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(prefer)) {
    throw new RangeError(`'prefer' must be one of ${BACKEND_PREFERENCES.join(', ')}, got ${String(prefer)}`);
  }
  const candidates = prefer === 'auto' ? ORDER : ORDER.slice(ORDER.indexOf(prefer));
  const skipped: SelectedBackend['skipped'] = [];
  for (const name of candidates) {
    const failure = await tryBackend(name, wasmKernelFixes);
    if (failure === null) return { name, skipped };
    skipped.push({ backend: name, reason: failure });
  }
  throw new Error(`no tfjs backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

/** Returns null when `name` is now the current backend, else why it could not be. */
async function tryBackend(name: BackendName, fixes: WasmKernelFixOptions | false): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // A variable specifier keeps TypeScript from requiring the optional package's types at build time.
      const nativePackage = '@tensorflow/tfjs-node';
      await import(nativePackage);
      if (tf.findBackendFactory('tensorflow') === null) {
        return `${nativePackage} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs (version mismatch?)`;
      }
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
      if (fixes !== false) installWasmKernelFixes(fixes);
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

/** One line for logs: "tfjs backend: wasm (skipped tensorflow: ...)". */
export function describeBackend(selected: SelectedBackend): string {
  const skipped = selected.skipped.map((s) => `skipped ${s.backend}: ${s.reason}`).join('; ');
  return `tfjs backend: ${selected.name}${skipped ? ` (${skipped})` : ''}`;
}
