// The inference worker, built to web/dist/ganforge-worker.js: one generator per worker. It fetches the model, reads
// its manifest, creates the onnxruntime-web session (WebGPU or wasm, as in the page) and runs it; the page's main
// thread stays free to draw and to answer input while a large grid is computed here.

import { loadGenerator, type Generator } from './generator.ts';
import { serializeError, type PageToWorker, type WorkerToPage } from './worker-protocol.ts';

/** The part of DedicatedWorkerGlobalScope used here (the project's lib is DOM, not WebWorker). */
interface WorkerScope {
  postMessage(message: WorkerToPage, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<PageToWorker>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
let generator: Promise<Generator> | undefined;
const loads = new Map<number, AbortController>();

scope.addEventListener('message', (event) => {
  const message = event.data;
  handle(message).catch((error: unknown) => scope.postMessage({ type: 'failed', id: message.id, error: serializeError(error) }));
});

async function handle(message: PageToWorker): Promise<void> {
  switch (message.type) {
    case 'load': {
      if (generator !== undefined) throw new Error('this inference worker already holds a generator; start one worker per model');
      const abort = new AbortController();
      loads.set(message.id, abort);
      const { backend, numThreads, wasmPaths, name } = message.options;
      const source = message.url ?? new Uint8Array(message.bytes ?? new ArrayBuffer(0));
      generator = loadGenerator(source, {
        worker: false,
        backend,
        numThreads,
        wasmPaths,
        ...(name === undefined ? {} : { name }),
        signal: abort.signal,
        ...(message.progress ? { onProgress: ({ loaded, total }) => scope.postMessage({ type: 'progress', id: message.id, loaded, total }) } : {}),
      });
      try {
        const { info } = await generator;
        scope.postMessage({ type: 'loaded', id: message.id, name: info.name, manifest: info.manifest, backend: info.backend, threads: info.threads, fallbackReason: info.fallbackReason });
      } catch (error) {
        generator = undefined;
        throw error;
      } finally {
        loads.delete(message.id);
      }
      return;
    }
    case 'abort':
      loads.get(message.id)?.abort();
      return;
    case 'run': {
      if (generator === undefined) throw new Error('no generator is loaded in this inference worker');
      const data = await (await generator).generateFromLatents(message.latent, message.labels, message.psi, message.mix);
      // Transferred, so only a whole buffer of exactly these values may go.
      const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
      scope.postMessage({ type: 'result', id: message.id, data: owned }, [owned.buffer]);
      return;
    }
    case 'release':
      if (generator !== undefined) await (await generator).dispose();
      generator = undefined;
      scope.postMessage({ type: 'released', id: message.id });
      return;
  }
}
