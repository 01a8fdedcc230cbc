// Whether onnxruntime-node could run CUDA here, found by looking for files instead of asking onnxruntime: asking it
// without the provider libraries prints a native "cannot open shared object file" error on stderr before the
// exception that the fallback catches, so a first run on a CPU-only machine would open with an apology.
// Node-only (fs); runtime/ort-node.ts turns the answer into a provider choice.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

export interface CudaProbe {
  /** The provider libraries and the NVIDIA driver were all found (CUDA may still fail: cuDNN, device, versions). */
  available: boolean;
  /** One line: what was found, or the first thing missing. No absolute path (it may reach /healthz). */
  reason: string;
}

export interface CudaProbeOptions {
  /** Folder of onnxruntime-node's native binding. Default: the installed package's bin/napi-v6/<platform>/<arch>. */
  bindingDir?: string;
  /** Platform whose file names apply. Default process.platform. */
  platform?: NodeJS.Platform;
  /** Folders searched for the driver's libcuda.so.1 besides the dynamic loader's cache. Default: LD_LIBRARY_PATH and the usual system folders. */
  driverDirs?: readonly string[];
  /** The dynamic loader's cache, searched for libcuda.so.1. Default /etc/ld.so.cache. */
  loaderCache?: string;
}

/** The provider libraries onnxruntime-node's install script downloads for CUDA (script/install.js, ONNXRUNTIME_NODE_INSTALL=cuda12). */
export const CUDA_PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;
/** The NVIDIA driver's user-space library, which the CUDA provider loads. */
export const CUDA_DRIVER_LIBRARY = 'libcuda.so.1';

const SYSTEM_LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/cuda/lib64', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib'];

export function probeCudaProvider(options: CudaProbeOptions = {}): CudaProbe {
  const platform = options.platform ?? process.platform;
  // onnxruntime-node ships CUDA for linux only (install-metadata.js); Windows and macOS never get the libraries.
  if (platform !== 'linux') return { available: false, reason: `onnxruntime-node has no CUDA provider for ${platform}` };
  let bindingDir = options.bindingDir;
  if (bindingDir === undefined) {
    try {
      bindingDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', platform, process.arch);
    } catch {
      return { available: false, reason: 'onnxruntime-node is not installed' };
    }
  }
  const missing = CUDA_PROVIDER_LIBRARIES.filter((file) => !existsSync(join(bindingDir, file)));
  if (missing.length > 0) {
    return { available: false, reason: `onnxruntime-node's CUDA provider is not installed (no ${missing.join(', ')} in its binding folder; a plain npm install skips it)` };
  }
  const dirs = options.driverDirs ?? [...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SYSTEM_LIBRARY_DIRS];
  if (!dirs.some((dir) => existsSync(join(dir, CUDA_DRIVER_LIBRARY))) && !loaderCacheNames(options.loaderCache ?? '/etc/ld.so.cache', CUDA_DRIVER_LIBRARY)) {
    return { available: false, reason: `the CUDA provider is installed but the NVIDIA driver is not (no ${CUDA_DRIVER_LIBRARY} on the library path)` };
  }
  return { available: true, reason: `onnxruntime-node's CUDA provider and the NVIDIA driver (${CUDA_DRIVER_LIBRARY}) are installed` };
}

/** Whether the dynamic loader's cache lists `library` (the cache stores names as NUL-terminated strings). */
function loaderCacheNames(cache: string, library: string): boolean {
  try {
    return readFileSync(cache).includes(`\0${library}\0`);
  } catch {
    return false;
  }
}
