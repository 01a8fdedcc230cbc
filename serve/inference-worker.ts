// One inference worker thread: onnxruntime-node's run() blocks its thread, so sessions live here and the HTTP thread
// stays free. The worker creates one warm session per model version at start, loads and releases versions when the
// pool says so (hot reload), and answers one batch at a time (serve/inference-pool.ts decides what goes into a batch).

import { parentPort, workerData } from 'node:worker_threads';
import { sampleLatents } from '../common/latents.ts';
import { styleMixFor, styleMixingFeeds, type StyleMix } from '../common/style-mixing.ts';
import { planTruncation } from '../common/truncation.ts';
import { psiRows } from '../runtime/generator-runner.ts';
import { encodeImages } from './generate.ts';
import { createNodeSession, ort, type NodeSession } from '../runtime/ort-node.ts';
import { packPayloads } from './batch-payload.ts';
import type { MainToWorker, SessionReport, WorkerInit, WorkerModel, WorkerToMain } from './worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('inference-worker.ts must run as a worker thread');
const init = workerData as WorkerInit;
const post = (message: WorkerToMain, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

interface Entry extends NodeSession {
  model: WorkerModel;
  latent: string;
  label: string | null;
  output: string;
  /** Batches currently running on this session. */
  running: number;
  /** Unloaded: released as soon as no batch runs on it. */
  retired: boolean;
}

/** Set by a 'fault' message (InferencePool.killWorker(i, 'throw-in-run')): the next batch throws out of its run. */
let throwInNextRun = false;

/** Version key → warm session. */
const sessions = new Map<string, Entry>();
/** Versions whose session is being created (an unload for one waits for it). */
const loading = new Map<string, Promise<unknown>>();

async function createEntry(model: WorkerModel): Promise<{ entry: Entry; report: SessionReport }> {
  const created = await createNodeSession(model.bytes, { device: model.device, intraOpNumThreads: init.intraOpNumThreads, allowSpinning: init.allowSpinning });
  const entry: Entry = { ...created, model, latent: model.latent, label: model.label, output: model.output, running: 0, retired: false };
  // Warm-up: the first run() allocates and plans the graph (several times slower than later runs); doing it here
  // keeps that cost out of the first real request and lets /readyz (and a hot-reload switch) mean "answers at full speed".
  const started = performance.now();
  try {
    const feeds: Record<string, ort.Tensor> = { [entry.latent]: new ort.Tensor('float32', new Float32Array(model.latentDim), [1, model.latentDim]) };
    if (entry.label !== null) feeds[entry.label] = new ort.Tensor('int64', new BigInt64Array(1), [1]);
    if (model.psiInput !== null) feeds[model.psiInput] = new ort.Tensor('float32', new Float32Array([1]), [1, 1]);
    for (const feed of styleMixingFeeds(model, 1, new Float32Array(model.latentDim))) feeds[feed.name] = new ort.Tensor('float32', feed.data, feed.dims);
    await entry.session.run(feeds, [entry.output]);
  } catch (error) {
    await entry.session.release();
    throw error;
  }
  return { entry, report: { provider: created.provider, fallbackReason: created.fallbackReason, warmupMs: performance.now() - started } };
}

async function start(): Promise<void> {
  const providers: Record<string, SessionReport> = {};
  for (const model of init.models) {
    const { entry, report } = await createEntry(model);
    sessions.set(model.version, entry);
    providers[model.version] = report;
  }
  post({ type: 'ready', providers });
}

function load(model: WorkerModel): void {
  const created = createEntry(model).then(
    ({ entry, report }) => {
      loading.delete(model.version);
      sessions.set(model.version, entry);
      post({ type: 'loaded', version: model.version, ...report });
    },
    (error: unknown) => {
      loading.delete(model.version);
      post({ type: 'load-error', version: model.version, message: error instanceof Error ? error.message : String(error) });
    },
  );
  loading.set(model.version, created);
}

function unload(version: string): void {
  const pending = loading.get(version);
  if (pending !== undefined) {
    void pending.then(() => unload(version));
    return;
  }
  const entry = sessions.get(version);
  if (entry === undefined) return;
  sessions.delete(version);
  entry.retired = true;
  if (entry.running === 0) void entry.session.release();
}

async function runBatch(message: Extract<MainToWorker, { type: 'run' }>): Promise<void> {
  const entry = sessions.get(message.version);
  try {
    if (entry === undefined) throw new Error(`worker has no session for model version '${message.version}'`);
    entry.running += 1;
    const { latentDim, name, imageShape, valueRange } = entry.model;
    // One latent matrix for the batch: each part's rows are its own latents, or drawn here from its seed.
    const latent = new Float32Array(message.count * latentDim);
    // A w-space model's ψ per row (planTruncation: its render parts draw untruncated z); ignored by other models.
    const psi = new Float32Array(message.count);
    // A style-mixing model's second latents and crossovers per row; a part that does not mix repeats its own latents
    // and sets the crossover past the last layer.
    const mixing = entry.model.styleMixing;
    const mix = mixing === undefined ? null : { latent: new Float32Array(message.count * latentDim), from: new Float32Array(message.count).fill(mixing.layers) };
    let row = 0;
    for (const part of message.parts) {
      let partMix: StyleMix | null = null;
      if ('latent' in part) {
        latent.set(part.latent, row * latentDim);
        psi.set(psiRows(part.psi, part.count), row);
        partMix = part.mix ?? null;
      } else {
        const { render } = part;
        const plan = planTruncation(entry.model.truncationKind, render.truncation, render.truncationMode);
        latent.set(sampleLatents({ latentDim, count: part.count, seed: render.seed, truncation: plan.latentTruncation, truncationMode: plan.latentMode }), row * latentDim);
        psi.fill(plan.psi ?? 1, row, row + part.count);
        if (render.mix && mix !== null) partMix = styleMixFor(entry.model, render.mix, part.count, plan.latentTruncation, plan.latentMode);
      }
      if (mix !== null) {
        if (partMix === null) {
          mix.latent.set(latent.subarray(row * latentDim, (row + part.count) * latentDim), row * latentDim);
        } else {
          mix.latent.set(partMix.latent, row * latentDim);
          mix.from.set(partMix.from, row);
        }
      }
      row += part.count;
    }
    const feeds: Record<string, ort.Tensor> = { [entry.latent]: new ort.Tensor('float32', latent, [message.count, latentDim]) };
    if (entry.model.psiInput !== null) feeds[entry.model.psiInput] = new ort.Tensor('float32', psi, [message.count, 1]);
    for (const feed of styleMixingFeeds(entry.model, message.count, latent, mix)) feeds[feed.name] = new ort.Tensor('float32', feed.data, feed.dims);
    if (entry.label !== null) {
      if (message.labels === null) throw new Error(`model version '${message.version}' needs labels`);
      feeds[entry.label] = new ort.Tensor('int64', message.labels, [message.count]);
    }
    const outputs = await entry.session.run(feeds, [entry.output]);
    if (throwInNextRun) {
      throwInNextRun = false;
      // Uncaught on purpose (nextTick escapes this try): the thread dies mid-batch as with a fault inside inference.
      process.nextTick(() => {
        throw new Error(`injected fault: worker threw out of run() of model version '${message.version}'`);
      });
      return;
    }
    const output = outputs[entry.output]!;
    const values = output.data as Float32Array;
    const perImage = values.length / message.count;
    // Every request's share goes into one buffer, moved to the HTTP thread in one transfer: each transferred
    // ArrayBuffer costs both threads a few µs (measured: a batch of 8 PNGs as 8 transfers 40 µs of CPU, as one 18 µs).
    const payloads: Uint8Array[] = [];
    const contentTypes: (string | undefined)[] = [];
    row = 0;
    for (const part of message.parts) {
      const rows = values.subarray(row * perImage, (row + part.count) * perImage);
      row += part.count;
      if ('latent' in part) {
        payloads.push(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
        contentTypes.push(undefined);
        continue;
      }
      const { render } = part;
      const encoded = encodeImages({ model: name, shape: [part.count, ...imageShape], data: rows, seed: render.seed, labels: render.labels === null ? null : [...render.labels], range: valueRange }, render.format);
      payloads.push(encoded.body);
      contentTypes.push(encoded.contentType);
    }
    const { payload, parts } = packPayloads(payloads, contentTypes);
    post({ type: 'result', id: message.id, payload, parts, dims: output.dims.map(Number) }, [payload]);
  } catch (error) {
    post({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
  } finally {
    if (entry !== undefined) {
      entry.running -= 1;
      if (entry.retired && entry.running === 0) void entry.session.release();
    }
  }
}

port.on('message', (message: MainToWorker) => {
  switch (message.type) {
    case 'run':
      void runBatch(message);
      break;
    case 'load':
      load(message.model);
      break;
    case 'unload':
      unload(message.version);
      break;
    case 'exit':
      process.exit(message.code);
      break;
    case 'fault':
      throwInNextRun = true;
      break;
    case 'stall':
      // Blocks this thread (and so its message queue) until the pool flips the flag.
      Atomics.wait(new Int32Array(message.signal), 0, 0);
      break;
  }
});

start().catch((error: unknown) => {
  post({ type: 'init-error', message: error instanceof Error ? error.message : String(error) });
});
