// One inference worker thread: onnxruntime-node's run() blocks its thread, so sessions live here and the HTTP thread
// stays free. The worker creates one session per model at start, then answers one batch at a time
// (serve/inference-pool.ts decides what goes into a batch).

import { parentPort, workerData } from 'node:worker_threads';
import { createNodeSession, ort, type NodeSession } from './ort-node.ts';
import type { MainToWorker, WorkerInit, WorkerToMain } from './inference-pool.ts';

const port = parentPort;
if (port === null) throw new Error('inference-worker.ts must run as a worker thread');
const init = workerData as WorkerInit;
const post = (message: WorkerToMain, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const sessions = new Map<string, NodeSession & { latent: string; label: string | null; output: string }>();

async function start(): Promise<void> {
  const providers: Extract<WorkerToMain, { type: 'ready' }>['providers'] = {};
  for (const model of init.models) {
    const created = await createNodeSession(model.bytes, { device: model.device, intraOpNumThreads: init.intraOpNumThreads, allowSpinning: init.allowSpinning });
    const entry = { ...created, latent: model.latent, label: model.label, output: model.output };
    // Warm-up: the first run() allocates and plans the graph (several times slower than later runs); doing it here
    // keeps that cost out of the first real request and lets /readyz mean "answers at full speed".
    const started = performance.now();
    const feeds: Record<string, ort.Tensor> = { [entry.latent]: new ort.Tensor('float32', new Float32Array(model.latentDim), [1, model.latentDim]) };
    if (entry.label !== null) feeds[entry.label] = new ort.Tensor('int64', new BigInt64Array(1), [1]);
    await entry.session.run(feeds, [entry.output]);
    sessions.set(model.name, entry);
    providers[model.name] = { provider: created.provider, fallbackReason: created.fallbackReason, warmupMs: performance.now() - started };
  }
  post({ type: 'ready', providers });
}

async function runBatch(message: Extract<MainToWorker, { type: 'run' }>): Promise<void> {
  try {
    const entry = sessions.get(message.model);
    if (entry === undefined) throw new Error(`worker has no session for model '${message.model}'`);
    const latentDim = message.latent.length / message.count;
    const feeds: Record<string, ort.Tensor> = { [entry.latent]: new ort.Tensor('float32', message.latent, [message.count, latentDim]) };
    if (entry.label !== null) {
      if (message.labels === null) throw new Error(`model '${message.model}' needs labels`);
      feeds[entry.label] = new ort.Tensor('int64', message.labels, [message.count]);
    }
    const outputs = await entry.session.run(feeds, [entry.output]);
    const output = outputs[entry.output]!;
    // Copy into a buffer we own so it can be transferred instead of cloned.
    const data = Float32Array.from(output.data as Float32Array);
    post({ type: 'result', id: message.id, data, dims: output.dims.map(Number) }, [data.buffer]);
  } catch (error) {
    post({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
  }
}

port.on('message', (message: MainToWorker) => {
  if (message.type === 'run') void runBatch(message);
  else if (message.type === 'exit') process.exit(message.code);
});

start().catch((error: unknown) => {
  post({ type: 'init-error', message: error instanceof Error ? error.message : String(error) });
});
