// The page's side of the inference worker: starts web/dist/ganforge-worker.js, which fetches the model, creates the
// onnxruntime-web session and runs it, so that a large grid's inference never blocks the page's main thread. The page
// only posts latents and receives images (both transferred, not copied twice).

import { GanforgeError } from '../../common/errors.ts';
import type { ModelManifest } from '../../common/manifest.ts';
import type { Backend } from './ort-web.ts';
import type { GeneratorRunner, LoadProgress } from './runner.ts';
import { deserializeError, type PageToWorker, type WorkerToPage } from './worker-protocol.ts';

/** The worker script's file name; scripts/build-web.mjs builds it next to ganforge.js. */
export const WORKER_SCRIPT = 'ganforge-worker.js';

export interface WorkerLoadOptions {
  backend?: 'auto' | Backend;
  numThreads?: number;
  wasmPaths?: string;
  name?: string;
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /** URL of ganforge-worker.js. Default: next to this module (the built ganforge.js). */
  workerUrl?: string | URL;
}

export interface WorkerLoaded {
  runner: GeneratorRunner;
  manifest: ModelManifest;
  name: string;
}

/** True where a page can start a module worker (a browser page; not Node, not a worker itself). */
export function canRunInWorker(): boolean {
  return typeof Worker === 'function' && typeof document !== 'undefined';
}

/** Starts a worker and loads the model there; rejects with the worker's own error (same class and code). */
export async function loadInWorker(source: string | URL | Uint8Array, options: WorkerLoadOptions = {}): Promise<WorkerLoaded> {
  const { backend = 'auto', numThreads = 0 } = options;
  const workerUrl = new URL(options.workerUrl ?? new URL(`./${WORKER_SCRIPT}`, import.meta.url), document.baseURI);
  // The build puts ort/ next to the worker script; the worker's own import.meta.url may be a chunk's, so say it here.
  const wasmPaths = options.wasmPaths ?? new URL('./ort/', workerUrl).href;
  const client = new WorkerClient(startWorker(workerUrl));
  const url = source instanceof Uint8Array ? undefined : new URL(source, document.baseURI).href; // the worker would resolve it against its script
  const bytes = source instanceof Uint8Array ? source.slice().buffer : undefined; // a copy: the caller's buffer stays usable
  const onAbort = () => client.post({ type: 'abort', id: 0 });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const loaded = await client.request(
      { type: 'load', id: 0, url, bytes, options: { backend, numThreads, wasmPaths, name: options.name }, progress: options.onProgress !== undefined },
      bytes === undefined ? [] : [bytes],
      options.onProgress,
    );
    if (loaded.type !== 'loaded') throw new GanforgeError('INTERNAL', `inference worker answered '${loaded.type}' to a load`);
    const runner: GeneratorRunner = {
      backend: loaded.backend,
      threads: loaded.threads,
      fallbackReason: loaded.fallbackReason,
      thread: 'worker',
      run: async (latent, labels, count, psi, mix) => {
        const copy = latent.slice();
        const psiCopy = psi?.slice() ?? null;
        const mixCopy = mix ? { latent: mix.latent.slice(), from: mix.from.slice() } : null;
        const transfer: ArrayBuffer[] = [copy.buffer, ...(psiCopy === null ? [] : [psiCopy.buffer]), ...(mixCopy === null ? [] : [mixCopy.latent.buffer, mixCopy.from.buffer])];
        const answer = await client.request(
          { type: 'run', id: 0, latent: copy, labels: labels === null ? null : [...labels], count, psi: psiCopy, mix: mixCopy },
          transfer,
        );
        if (answer.type !== 'result') throw new GanforgeError('INTERNAL', `inference worker answered '${answer.type}' to a run`);
        return answer.data;
      },
      release: async () => {
        try {
          await client.request({ type: 'release', id: 0 });
        } finally {
          client.terminate();
        }
      },
    };
    return { runner, manifest: loaded.manifest, name: loaded.name };
  } catch (error) {
    client.terminate();
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function startWorker(url: URL): Worker {
  // A worker must be same-origin with its page; a page embedding ganforge.js from another origin gets a same-origin
  // blob module that imports the real script (import.meta.url inside it stays the real URL).
  if (url.origin === location.origin) return new Worker(url, { type: 'module', name: 'ganforge-inference' });
  const blob = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
  return new Worker(URL.createObjectURL(blob), { type: 'module', name: 'ganforge-inference' });
}

interface Pending {
  resolve: (message: WorkerToPage) => void;
  reject: (error: Error) => void;
  onProgress: ((progress: LoadProgress) => void) | undefined;
}

/** Request/answer over one worker: ids pair answers with requests; a dead worker fails every request, now and later. */
class WorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.addEventListener('message', (event: MessageEvent<WorkerToPage>) => this.receive(event.data));
    // A script that fails to load or a worker that throws outside a request: nothing will answer any more.
    worker.addEventListener('error', (event: ErrorEvent) => {
      event.preventDefault();
      this.fail(new GanforgeError('INTERNAL', `the inference worker failed (${event.message || 'its script could not be loaded or run'}); load the generator with { worker: false } to run it in the page`));
    });
    worker.addEventListener('messageerror', () => this.fail(new GanforgeError('INTERNAL', 'the inference worker sent a message that could not be read')));
  }

  request(message: PageToWorker, transfer: Transferable[] = [], onProgress?: (progress: LoadProgress) => void): Promise<WorkerToPage> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<WorkerToPage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** A message that expects no answer; id 0 means the oldest request (the load, the only one an abort applies to). */
  post(message: PageToWorker): void {
    const id = message.id === 0 ? (this.pending.keys().next().value ?? 0) : message.id;
    if (this.failure === undefined) this.worker.postMessage({ ...message, id });
  }

  terminate(): void {
    this.worker.terminate();
    this.fail(new GanforgeError('INVALID_PARAMETER', 'this generator was disposed; load it again'));
  }

  private receive(message: WorkerToPage): void {
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    if (message.type === 'progress') {
      pending.onProgress?.({ loaded: message.loaded, total: message.total });
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'failed') pending.reject(deserializeError(message.error));
    else pending.resolve(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
