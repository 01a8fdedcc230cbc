// The one file that imports onnxruntime-node; export/, eval/ and serve/ all create their sessions here. It owns
// execution-provider choice: CUDA when asked for (or by default when its libraries are installed), else CPU.
// onnxruntime-node throws instead of falling back when CUDA is absent, and prints a native error to stderr first, so
// the libraries are looked for before CUDA is asked for (runtime/cuda-probe.ts) and the choice is reported in words.

import * as ort from 'onnxruntime-node';
import { GanforgeError } from '../common/errors.ts';
import { probeCudaProvider, type CudaProbe } from './cuda-probe.ts';

export { ort };

export type Device = 'auto' | 'cuda' | 'cpu';
export type ExecutionProvider = 'cuda' | 'cpu';

export interface NodeSession {
  session: ort.InferenceSession;
  /** The execution provider the session was created with. */
  provider: ExecutionProvider;
  /** Why a better provider was not used (undefined when the first choice worked, or CPU was asked for). */
  fallbackReason: string | undefined;
}

export interface CreateSessionOptions {
  /**
   * 'auto': CUDA if its libraries are installed (CPU if the session then fails on CUDA, with a reason), else CPU;
   * 'cuda': CUDA or an INVALID_PARAMETER error saying why not; 'cpu': only CPU. Default 'auto'.
   */
  device?: Device;
  /** Intra-op threads for the CPU provider (0 = onnxruntime's default). Default 0. */
  intraOpNumThreads?: number;
  /**
   * Whether idle intra-op threads busy-wait for work (onnxruntime's default). Spinning cuts latency on free cores but
   * steals them from the HTTP thread and the other workers when sessions share a small machine. Default true.
   */
  allowSpinning?: boolean;
}

/** Which provider a device setting leads to before any session exists, and why, in one line. */
export interface ProviderChoice {
  provider: ExecutionProvider;
  reason: string;
}

let cachedProbe: CudaProbe | undefined;
/** The probe of this process's onnxruntime-node install and driver (files do not appear while it runs). */
function cudaProbe(): CudaProbe {
  cachedProbe ??= probeCudaProvider();
  return cachedProbe;
}

/**
 * The provider `device` selects on this machine, and why; throws INVALID_PARAMETER for 'cuda' where CUDA cannot
 * run. `probe` defaults to this process's (tests pass their own).
 */
export function chooseProvider(device: Device, probe: CudaProbe = cudaProbe()): ProviderChoice {
  if (device === 'cpu') return { provider: 'cpu', reason: "CPU, as '--device cpu' asks" };
  if (probe.available) return { provider: 'cuda', reason: `CUDA: ${probe.reason}` };
  if (device === 'cuda') {
    throw new GanforgeError('INVALID_PARAMETER', `'device' is 'cuda' but CUDA cannot run here: ${probe.reason}; use 'auto' or 'cpu', or see the README, "Backends and devices"`, { parameter: 'device' });
  }
  return { provider: 'cpu', reason: `CPU: ${probe.reason} (see the README, "Backends and devices")` };
}

/** Creates a session on the provider chooseProvider picks; 'auto' never fails for lack of CUDA alone. */
export async function createNodeSession(model: Uint8Array | string, options: CreateSessionOptions = {}): Promise<NodeSession> {
  const { device = 'auto', intraOpNumThreads = 0, allowSpinning = true } = options;
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    ...(intraOpNumThreads > 0 ? { intraOpNumThreads } : {}),
    // The Node binding takes session config entries as flat string keys (onnxruntime_session_options_config_keys.h).
    ...(allowSpinning ? {} : { extra: { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' } }),
  };
  const create = (providers: ExecutionProvider[]) =>
    typeof model === 'string'
      ? ort.InferenceSession.create(model, { ...base, executionProviders: providers })
      : ort.InferenceSession.create(model, { ...base, executionProviders: providers });
  const choice = chooseProvider(device);
  if (choice.provider === 'cpu') {
    return { session: await create(['cpu']), provider: 'cpu', fallbackReason: device === 'cpu' ? undefined : choice.reason };
  }
  try {
    return { session: await create(['cuda']), provider: 'cuda', fallbackReason: undefined };
  } catch (error) {
    // The libraries are there but CUDA still failed (no cuDNN, driver too old, no device): only 'auto' falls back.
    const reason = `CUDA execution provider unavailable (${firstLine(error)}); see the README, "Backends and devices"`;
    if (device === 'cuda') throw new GanforgeError('INVALID_PARAMETER', `'device' is 'cuda' but ${reason}`, { parameter: 'device', cause: error });
    return { session: await create(['cpu']), provider: 'cpu', fallbackReason: reason };
  }
}

/** The onnxruntime-node version, for /healthz. */
export const onnxruntimeVersion: string = ort.env.versions.common ?? 'unknown';

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
