// The one file that imports onnxruntime-node. It owns execution-provider choice: CUDA when asked for (or by default
// when its libraries are installed), else CPU. onnxruntime-node throws instead of falling back when CUDA is absent,
// so the fallback and its reason are ours to make and report.

import * as ort from 'onnxruntime-node';

export { ort };

export type Device = 'auto' | 'cuda' | 'cpu';
export type ExecutionProvider = 'cuda' | 'cpu';

export interface NodeSession {
  session: ort.InferenceSession;
  /** The execution provider the session was created with. */
  provider: ExecutionProvider;
  /** Why a better provider was not used (undefined when the first choice worked). */
  fallbackReason: string | undefined;
}

export interface CreateSessionOptions {
  /** 'auto' tries CUDA then CPU; 'cuda' tries CUDA and falls back to CPU with a reason; 'cpu' only CPU. Default 'auto'. */
  device?: Device;
  /** Intra-op threads for the CPU provider (0 = onnxruntime's default). Default 0. */
  intraOpNumThreads?: number;
  /**
   * Whether idle intra-op threads busy-wait for work (onnxruntime's default). Spinning cuts latency on free cores but
   * steals them from the HTTP thread and the other workers when sessions share a small machine. Default true.
   */
  allowSpinning?: boolean;
}

/** Creates a session on the best provider allowed by `device`, never failing for lack of CUDA alone. */
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
  let fallbackReason: string | undefined;
  if (device !== 'cpu') {
    try {
      return { session: await create(['cuda']), provider: 'cuda', fallbackReason: undefined };
    } catch (error) {
      fallbackReason = `CUDA execution provider unavailable (${firstLine(error)}); see the README, "Backends and devices"`;
    }
  }
  return { session: await create(['cpu']), provider: 'cpu', fallbackReason };
}

/** The onnxruntime-node version, for /healthz. */
export const onnxruntimeVersion: string = ort.env.versions.common ?? 'unknown';

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
