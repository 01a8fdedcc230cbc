// A pool of inference worker threads (serve/inference-worker.ts) with one queue in front. onnxruntime-node's run()
// blocks the thread that calls it, so the HTTP thread only queues here and awaits. Each worker runs one batch at a
// time; while all are busy, queued requests for the same model are merged into one batch (dynamic batching), which
// changes no response: a latent depends only on seed and index, and every image's row of the graph is computed
// independently (dense layers, BatchNorm in inference form). A worker that dies fails its batch with INTERNAL and is
// replaced; a request never hangs (timeoutMs bounds it).
//
// Models can be added, replaced and removed while serving (serve/model-watcher.ts). Every model version has its own
// key: a request is bound to the version that was current when it was queued, batches never mix versions, and a
// replaced or removed version keeps its worker sessions until its last queued or running request is done. A new
// version becomes current only after every ready worker has created and warmed up its session.

import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GanforgeError } from '../common/errors.ts';
import type { OutputFormat } from '../common/generate-params.ts';
import type { ModelManifest } from '../common/manifest.ts';
import type { TruncationMode } from '../common/truncation.ts';
import { viewPart, type PayloadPart, type ResultPart } from './batch-payload.ts';
import type { EncodedImages } from './generate.ts';
import type { Logger } from './logger.ts';
import type { Device } from './ort-node.ts';

/** What the pool needs of a model (a ServedModel from the repository fits). */
export interface PoolModel {
  name: string;
  bytes: Uint8Array;
  manifest: ModelManifest;
  /** Provider a probe already settled on (the repository's); workers then skip a CUDA attempt known to fail. Default: the pool's device. */
  provider?: 'cuda' | 'cpu';
}

export interface InferencePoolOptions {
  models: readonly PoolModel[];
  /** Execution provider choice, applied in every worker. Default 'auto'. */
  device?: Device;
  /** Number of worker threads. Default min(2, cores). */
  workers?: number;
  /** onnxruntime intra-op threads per worker. Default max(1, floor(cores / workers)), so workers do not oversubscribe cores. */
  intraOpNumThreads?: number;
  /** Let onnxruntime's idle intra-op threads busy-wait. Off by default: on a small machine they starve the HTTP thread and the other workers (measured: 1.8 → 0.5 ms per MLP run, ~3× less CPU). Default false. */
  allowSpinning?: boolean;
  /** Largest merged batch, in images; 1 turns dynamic batching off. Default 64. */
  maxBatchImages?: number;
  /**
   * Triton's max_queue_delay: while another worker is running a batch, an idle worker waits up to this long for the
   * queue to hold preferredBatchImages images of one model before taking a smaller batch. With every worker idle a
   * request goes out at once, so a lone request never waits. 0 = never wait. Default 2.
   */
  batchDelayMs?: number;
  /** Queued images of one model version at which an idle worker stops waiting (see batchDelayMs). Default min(16, maxBatchImages). */
  preferredBatchImages?: number;
  /** Images queued or running beyond which new requests fail with OVERLOADED. Default 1024. */
  maxQueuedImages?: number;
  /** A request not answered within this many milliseconds fails with TIMEOUT. Default 30000. */
  timeoutMs?: number;
  /** Worker restarts and failures are reported here. Default: nothing. */
  logger?: Logger;
  /** Told about queue waits and batch sizes (serve/metrics.ts feeds /metrics from it). Default: nothing. */
  observer?: PoolObserver;
}

/** Hooks for metrics; called synchronously on the HTTP thread, so they must be cheap and must not throw. */
export interface PoolObserver {
  /** A batch went to a worker: `images` images merged from `requests` requests of one model. */
  batchDispatched(model: string, images: number, requests: number): void;
  /** A request left the queue for a worker after waiting `seconds`. */
  queueWaited(model: string, seconds: number): void;
}

/** One request's generator input: `count` latents (row-major) and, for a conditional model, one label each. */
export interface GeneratorInput {
  latent: Float32Array;
  labels: BigInt64Array | null;
  count: number;
}

export interface GeneratorOutput {
  /** NHWC values, `count` images. */
  data: Float32Array;
  dims: number[];
}

/**
 * A request the worker completes by itself: it draws the latents from the seed (common/latents.ts, exactly as
 * generateImages does) and encodes the images, so the HTTP thread only parses, queues and writes. Measured on the
 * 2-core machine: drawing and PNG-encoding one 28×28 image costs the HTTP thread ~60 µs of its ~240 µs per request.
 */
export interface RenderRequest {
  count: number;
  seed: number;
  truncation: number;
  truncationMode: TruncationMode;
  /** One label per image for a conditional model, else null. */
  labels: readonly number[] | null;
  format: OutputFormat;
}

/** Anything that runs a generator: the pool, or a test double-free direct runner. */
export interface GeneratorRunner {
  run(model: string, input: GeneratorInput, options?: RunOptions): Promise<GeneratorOutput>;
  /** Latents, inference and encoding in one step off the calling thread (the pool has it; serve/generate.ts falls back to run()). */
  render?(model: string, request: RenderRequest, options?: RunOptions): Promise<EncodedImages>;
}

/** What the pool reads of an AbortSignal: an AbortSignal fits, and serve/app.ts passes a cheaper one per request. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface RunOptions {
  /** Aborting drops the request if it is still queued (e.g. the HTTP client went away); a running batch finishes. Default: none. */
  signal?: CancelSignal;
}

export interface PoolStats {
  workers: number;
  ready: number;
  busy: number;
  queuedRequests: number;
  restarts: number;
  batches: number;
  mergedRequests: number;
  /** False once close() was called: new requests are refused. */
  accepting: boolean;
}

/** One model version as the pool tracks it (see modelVersions()). */
export interface ModelVersionInfo {
  name: string;
  /** The pool's key for this version (unique for the pool's lifetime). */
  version: string;
  /** staged: workers are loading it; current: new requests use it; retiring: replaced or removed, finishing its requests. */
  state: 'staged' | 'current' | 'retiring';
  /** Workers holding a ready session for it. */
  workers: number;
}

/** A version staged by stageModel(): workers hold warm sessions for it; activate() makes it current. */
export interface StagedModel {
  /** Makes this version the one new requests use (synchronously); the previous one retires once its requests are done. */
  activate(): void;
  /** Drops the staged version without serving it. */
  discard(): void;
}

// ---- messages between the pool and its workers ----
export interface WorkerModel {
  /** Version key: sessions and run messages are keyed by it, never by name. */
  version: string;
  name: string;
  bytes: Uint8Array;
  device: Device;
  latentDim: number;
  latent: string;
  label: string | null;
  output: string;
  /** For rendering in the worker: [H, W, C] and the output value range of the manifest. */
  imageShape: [number, number, number];
  valueRange: [number, number];
}
export interface WorkerInit {
  models: WorkerModel[];
  intraOpNumThreads: number;
  allowSpinning: boolean;
}
export interface SessionReport {
  provider: string;
  fallbackReason: string | undefined;
  warmupMs: number;
}
/** One request's share of a batch: its latents, or what the worker needs to draw them and encode the result. */
export type RunPart = { count: number; latent: Float32Array } | { count: number; render: RenderRequest };
export type MainToWorker =
  | { type: 'run'; id: number; version: string; parts: RunPart[]; labels: BigInt64Array | null; count: number }
  | { type: 'load'; model: WorkerModel }
  | { type: 'unload'; version: string }
  | { type: 'exit'; code: number };
export type WorkerToMain =
  | { type: 'ready'; providers: Record<string, SessionReport> }
  | { type: 'init-error'; message: string }
  | ({ type: 'loaded'; version: string } & SessionReport)
  | { type: 'load-error'; version: string; message: string }
  | { type: 'result'; id: number; payload: ArrayBuffer; parts: PayloadPart[]; dims: number[] }
  | { type: 'error'; id: number; message: string };

interface ModelVersion {
  key: string;
  model: PoolModel;
  spec: WorkerModel;
  state: ModelVersionInfo['state'];
  /** Moving average of how long a worker takes to run one batch of this version, ms; undefined until one has run. */
  batchMs: number | undefined;
}

interface PendingLoad {
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Job {
  model: string;
  version: ModelVersion;
  input: { count: number; labels: BigInt64Array | null; part: RunPart };
  /** `dims` are the batch's output dims (first one is the batch size). */
  resolve: (part: ResultPart, dims: readonly number[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
  /** performance.now() when queued. */
  queuedAt: number;
}

interface Batch {
  id: number;
  model: string;
  version: ModelVersion;
  jobs: Job[];
  /** performance.now() when it was posted to its worker. */
  sentAt: number;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  /** Batches sent to this worker and not answered yet, oldest (running) first; at most PIPELINE_DEPTH. */
  batches: Batch[];
  /** Version keys this worker holds a warm session for. */
  loaded: Set<string>;
  /** Versions this worker was asked to load and has not answered for yet. */
  loading: Map<string, PendingLoad>;
  /** Consecutive failures before becoming ready; drives the restart backoff. */
  failures: number;
  /** performance.now() when this worker last answered a batch (a pipelined batch starts then, not when it was sent). */
  lastAnsweredAt: number;
}

/**
 * Batches a worker may hold: the one it runs and one waiting in its message queue. With the next batch already queued
 * the worker goes straight on instead of sleeping until the HTTP thread has handled the last result and sent more:
 * waking an idle thread costs ~130 µs of CPU and ~300 µs of latency per round trip on the 2-core VM this was
 * measured on (a bare postMessage ping-pong), which at ~500 batches/s is a tenth of the machine.
 */
const PIPELINE_DEPTH = 2;
/**
 * A second batch goes to a busy worker only for a model whose batches take less than this: then the wake-up is a real
 * share of the work. For a slower model the next batch is better formed when the worker is free, from everything that
 * queued meanwhile (bigger batches; measured on a DCGAN generator at 32 clients: mean batch 4.2 pipelined vs 7.3).
 */
const PIPELINE_BELOW_BATCH_MS = 5;
/**
 * For a model whose batches take at least this long (inference-bound), a free worker takes its fair share of the
 * queue, the queued images divided by the workers that can run the model, rather than all of it: on a CPU a batch
 * gains little per image (onnxruntime's ConvTranspose runs image by image), while a worker left with an empty queue
 * leaves a core idle until the big batch is done (measured on a DCGAN generator, median of 6 paired rounds: +11% req/s
 * at 8 clients, where greedy batching had fallen to 0.90× one request per run(), and +4% at 32). Faster models keep
 * taking everything queued: their cost is per run, not per image (the bundled cgan: unchanged).
 */
const FAIR_SHARE_FROM_BATCH_MS = 2;

/** Longest a staged model version may take to be loaded and warmed up by every worker. */
const STAGE_TIMEOUT_MS = 120_000;

// Workers run the same kind of file as this module: .js when built, .ts under tsx (tests, benchmarks).
const WORKER_URL = new URL(`./inference-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

function createWorker(workerData: WorkerInit): Worker {
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, { workerData });
  // On Node 20, tsx 4 registers its loader hooks on the main thread only (it checks isMainThread), so a worker
  // inherits --import tsx but cannot load .ts; the worker registers tsx itself before importing the real file.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export class InferencePool implements GeneratorRunner {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  /** Name → the version new requests use. */
  private readonly current = new Map<string, ModelVersion>();
  /** Key → every version workers should hold: current, staged and retiring ones. */
  private readonly versions = new Map<string, ModelVersion>();
  private readonly device: Device;
  private readonly intraOpNumThreads: number;
  private readonly allowSpinning: boolean;
  private readonly logger: Logger;
  private readonly maxBatchImages: number;
  private readonly batchDelayMs: number;
  private readonly preferredBatchImages: number;
  /** The pending wake-up of a worker that is waiting for a fuller batch, and when it fires. */
  private delayedDispatch: { timer: NodeJS.Timeout; at: number } | null = null;
  private readonly maxQueuedImages: number;
  private readonly timeoutMs: number;
  private readonly observer: PoolObserver | undefined;
  private nextBatchId = 1;
  private nextVersion = 1;
  private restarts = 0;
  private batches = 0;
  private mergedRequests = 0;
  private closing = false;
  private closed: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  private constructor(options: InferencePoolOptions, workers: number) {
    const cores = availableParallelism();
    this.device = options.device ?? 'auto';
    this.intraOpNumThreads = options.intraOpNumThreads ?? Math.max(1, Math.floor(cores / workers));
    this.allowSpinning = options.allowSpinning ?? false;
    for (const model of options.models) {
      const version = this.addVersion(model);
      version.state = 'current';
      this.current.set(model.name, version);
    }
    this.logger = options.logger ?? (() => {});
    this.maxBatchImages = options.maxBatchImages ?? 64;
    this.batchDelayMs = options.batchDelayMs ?? 2;
    this.preferredBatchImages = Math.min(options.preferredBatchImages ?? 16, this.maxBatchImages);
    this.maxQueuedImages = options.maxQueuedImages ?? 1024;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.observer = options.observer;
    for (let index = 0; index < workers; index++) {
      this.slots.push({ index, worker: null, ready: false, batches: [], loaded: new Set(), loading: new Map(), failures: 0, lastAnsweredAt: 0 });
    }
  }

  /** Starts the workers and resolves once every one has created its sessions. */
  static async start(options: InferencePoolOptions): Promise<InferencePool> {
    const workers = options.workers ?? Math.min(2, availableParallelism());
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new RangeError(`'workers' must be an integer in [1, 64], got ${workers}`);
    for (const [field, value, min] of [['maxBatchImages', options.maxBatchImages, 1], ['maxQueuedImages', options.maxQueuedImages, 1], ['timeoutMs', options.timeoutMs, 1], ['intraOpNumThreads', options.intraOpNumThreads, 1], ['preferredBatchImages', options.preferredBatchImages, 1]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < min)) throw new RangeError(`'${field}' must be an integer ≥ ${min}, got ${value}`);
    }
    if (options.batchDelayMs !== undefined && !(Number.isFinite(options.batchDelayMs) && options.batchDelayMs >= 0 && options.batchDelayMs <= 1000)) {
      throw new RangeError(`'batchDelayMs' must be a number of milliseconds in [0, 1000], got ${options.batchDelayMs}`);
    }
    const pool = new InferencePool(options, workers);
    try {
      await Promise.all(pool.slots.map((slot) => pool.spawn(slot)));
    } catch (error) {
      pool.closing = true;
      await Promise.all(pool.slots.flatMap((s) => (s.worker === null ? [] : [s.worker.terminate()])));
      throw error;
    }
    return pool;
  }

  run(model: string, input: GeneratorInput, options: RunOptions = {}): Promise<GeneratorOutput> {
    return this.enqueue(model, { count: input.count, labels: input.labels, part: { count: input.count, latent: input.latent } }, options).then(({ part, dims }) => {
      if (!('data' in part)) throw new Error('run: the worker answered with an encoded body');
      return { data: part.data, dims: [input.count, ...dims.slice(1)] };
    });
  }

  render(model: string, request: RenderRequest, options: RunOptions = {}): Promise<EncodedImages> {
    const labels = request.labels === null ? null : BigInt64Array.from(request.labels, (label) => BigInt(label));
    return this.enqueue(model, { count: request.count, labels, part: { count: request.count, render: request } }, options).then(({ part }) => {
      if (!('body' in part)) throw new Error('render: the worker answered with raw values');
      return { body: part.body, contentType: part.contentType };
    });
  }

  /** Queues one request's work for the model's current version; settles with its share of the batch result. */
  private enqueue(model: string, input: Job['input'], options: RunOptions): Promise<{ part: ResultPart; dims: readonly number[] }> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(asError(signal.reason));
    if (this.closing) return Promise.reject(new GanforgeError('OVERLOADED', 'the server is shutting down; retry on another instance'));
    const version = this.current.get(model);
    if (version === undefined) return Promise.reject(new GanforgeError('UNKNOWN_MODEL', `unknown model '${model}'`, { parameter: 'model' }));
    const served = version.model;
    if (!Number.isInteger(input.count) || input.count < 1) return Promise.reject(new RangeError(`'count' must be a positive integer, got ${input.count}`));
    const { latentDim } = served.manifest;
    if ('latent' in input.part && input.part.latent.length !== input.count * latentDim) {
      return Promise.reject(new RangeError(`run: ${input.count} latents of width ${latentDim} need ${input.count * latentDim} values, got ${input.part.latent.length}`));
    }
    if ((served.manifest.inputs.label !== null) !== (input.labels !== null) || (input.labels !== null && input.labels.length !== input.count)) {
      return Promise.reject(new RangeError(`run: model '${model}' needs ${served.manifest.inputs.label === null ? 'no labels' : `${input.count} labels`}`));
    }
    if (this.load() + input.count > this.maxQueuedImages) {
      return Promise.reject(new GanforgeError('OVERLOADED', `the server has ${this.load()} images queued (limit ${this.maxQueuedImages}); retry shortly`));
    }
    return new Promise<{ part: ResultPart; dims: readonly number[] }>((resolve, reject) => {
      // Only a job still in the queue can be withdrawn; one in a worker's batch is settled by that batch.
      const withdraw = (error: Error) => {
        const queued = this.queue.indexOf(job);
        if (queued < 0) return;
        this.queue.splice(queued, 1);
        this.settle(job, error);
        this.releaseRetired();
        this.checkDrained();
      };
      const onAbort = () => withdraw(asError(signal!.reason));
      const job: Job = {
        model,
        version,
        input,
        resolve: (part, dims) => { signal?.removeEventListener('abort', onAbort); resolve({ part, dims }); },
        reject: (error) => { signal?.removeEventListener('abort', onAbort); reject(error); },
        settled: false,
        queuedAt: performance.now(),
        timer: setTimeout(() => {
          withdraw(new GanforgeError('TIMEOUT', `the generator did not answer within ${this.timeoutMs} ms`));
          // A job already running times out too; its late result is dropped by settle().
          this.settle(job, new GanforgeError('TIMEOUT', `the generator did not answer within ${this.timeoutMs} ms`));
        }, this.timeoutMs),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  stats(): PoolStats {
    return {
      workers: this.slots.length,
      ready: this.slots.filter((s) => s.ready).length,
      busy: this.slots.filter((s) => s.batches.length > 0).length,
      queuedRequests: this.queue.length,
      restarts: this.restarts,
      batches: this.batches,
      mergedRequests: this.mergedRequests,
      accepting: !this.closing,
    };
  }

  /** Every model version the workers hold or are loading, in name order. */
  modelVersions(): ModelVersionInfo[] {
    return [...this.versions.values()]
      .map((v) => ({ name: v.model.name, version: v.key, state: v.state, workers: this.slots.filter((s) => s.loaded.has(v.key)).length }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Has every ready worker create and warm up a session for this model (a new name or a new version of a served one)
   * and resolves once they all have; new requests keep using the previous version until activate(). Rejects (and
   * drops the staged version) if a worker cannot load it. Workers that start later load it as part of their start.
   */
  async stageModel(model: PoolModel): Promise<StagedModel> {
    if (this.closing) throw new GanforgeError('OVERLOADED', 'the server is shutting down');
    const version = this.addVersion(model);
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded: reloads run one at a time, so a load that never answered would hold up every later one.
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GanforgeError('TIMEOUT', `the inference workers did not load '${model.name}' within ${STAGE_TIMEOUT_MS / 1000} s`)), STAGE_TIMEOUT_MS);
        timer.unref();
      });
      await Promise.race([Promise.all(this.slots.filter((s) => s.ready && s.worker !== null).map((s) => this.loadOn(s, version))), timedOut]);
    } catch (error) {
      this.dropVersion(version);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (this.closing) {
      this.dropVersion(version);
      throw new GanforgeError('OVERLOADED', 'the server is shutting down');
    }
    let settled = false;
    return {
      activate: () => {
        if (settled) return;
        settled = true;
        const previous = this.current.get(model.name);
        if (previous !== undefined) previous.state = 'retiring';
        version.state = 'current';
        this.current.set(model.name, version);
        this.releaseRetired();
        this.dispatch();
      },
      discard: () => {
        if (settled) return;
        settled = true;
        this.dropVersion(version);
      },
    };
  }

  /** New requests for this name fail with UNKNOWN_MODEL; queued and running ones finish, then the sessions are released. */
  removeModel(name: string): boolean {
    const version = this.current.get(name);
    if (version === undefined) return false;
    this.current.delete(name);
    version.state = 'retiring';
    this.releaseRetired();
    return true;
  }

  /**
   * Kills one worker as a crash would: its running batch fails with INTERNAL (any result it still produces is dropped)
   * and a fresh worker replaces it. For recovery tests and for recycling a worker. The worker exits at its next JS
   * turn, not via Worker.terminate(): terminating a thread inside onnxruntime's native run() aborts the whole process
   * (checked with onnxruntime-node 1.30: "terminate called after throwing an instance of 'Napi::Error'").
   */
  async killWorker(index: number): Promise<void> {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`'index' must be in [0, ${this.slots.length - 1}], got ${index}`);
    const worker = slot.worker;
    if (worker === null) return;
    worker.removeAllListeners('message');
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'exit', code: 70 } satisfies MainToWorker);
    await exited;
  }

  /** Refuses new requests, lets queued and running ones finish, then stops the workers. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      if (this.queue.length > 0 || this.slots.some((s) => s.batches.length > 0)) {
        await new Promise<void>((resolve) => { this.drained = resolve; });
      }
      await Promise.all(this.slots.flatMap((s) => (s.worker === null ? [] : [s.worker.terminate()])));
    })();
    return this.closed;
  }

  private load(): number {
    let images = 0;
    for (const job of this.queue) images += job.input.count;
    for (const slot of this.slots) for (const batch of slot.batches) for (const job of batch.jobs) images += job.input.count;
    return images;
  }

  /** Creates the slot's worker; resolves when it is ready, rejects if it fails before that. */
  private spawn(slot: Slot): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // A restarted worker starts with the models of now (including versions still finishing requests), not those of
      // the pool's start.
      const worker = createWorker({
        models: [...this.versions.values()].map((v) => v.spec),
        intraOpNumThreads: this.intraOpNumThreads,
        allowSpinning: this.allowSpinning,
      });
      slot.worker = worker;
      slot.ready = false;
      slot.loaded = new Set();
      worker.on('message', (message: WorkerToMain) => {
        switch (message.type) {
          case 'ready':
            for (const [key, report] of Object.entries(message.providers)) this.checkProvider(slot, key, report);
            this.logger({
              level: 'info',
              event: 'worker-ready',
              worker: slot.index,
              warmupMs: Object.fromEntries(Object.entries(message.providers).map(([key, p]) => [this.versions.get(key)?.model.name ?? key, Math.round(p.warmupMs * 10) / 10])),
            });
            slot.loaded = new Set(Object.keys(message.providers));
            slot.ready = true;
            slot.failures = 0;
            resolve();
            this.syncSessions(slot);
            this.dispatch();
            break;
          case 'loaded': {
            const pending = slot.loading.get(message.version);
            slot.loading.delete(message.version);
            const version = this.versions.get(message.version);
            if (version === undefined) {
              // Dropped while this worker was loading it.
              worker.postMessage({ type: 'unload', version: message.version } satisfies MainToWorker);
            } else {
              slot.loaded.add(message.version);
              this.checkProvider(slot, message.version, message);
              this.logger({ level: 'info', event: 'worker-model-loaded', worker: slot.index, model: version.model.name, warmupMs: Math.round(message.warmupMs * 10) / 10 });
            }
            pending?.resolve();
            this.dispatch();
            break;
          }
          case 'load-error': {
            const pending = slot.loading.get(message.version);
            slot.loading.delete(message.version);
            const name = this.versions.get(message.version)?.model.name ?? message.version;
            this.logger({ level: 'error', event: 'worker-model-load-failed', worker: slot.index, model: name, reason: message.message });
            pending?.reject(new GanforgeError('INVALID_MODEL', `inference worker ${slot.index} could not load '${name}': ${message.message}`));
            break;
          }
          case 'init-error':
            this.logger({ level: 'error', event: 'worker-init-failed', worker: slot.index, reason: message.message });
            reject(new GanforgeError('INTERNAL', `inference worker ${slot.index} could not create its sessions: ${message.message}`));
            void worker.terminate();
            break;
          case 'result':
          case 'error':
            this.finishBatch(slot, message);
            break;
        }
      });
      worker.on('error', (error) => {
        this.logger({ level: 'error', event: 'worker-error', worker: slot.index, reason: error.message });
        reject(error);
      });
      worker.on('exit', (exitCode) => {
        if (slot.worker !== worker) return;
        const wasReady = slot.ready;
        slot.ready = false;
        reject(new GanforgeError('INTERNAL', `inference worker ${slot.index} exited with code ${exitCode} while starting`));
        // The worker runs its batches in turn: the first was running and fails; the ones still waiting in its message
        // queue never started and go back to the front of the queue for another worker.
        const [running, ...unstarted] = slot.batches;
        slot.batches = [];
        slot.loaded = new Set();
        for (const job of running?.jobs ?? []) {
          this.settle(job, new GanforgeError('INTERNAL', `inference worker ${slot.index} stopped while running this request`));
        }
        this.queue.unshift(...unstarted.flatMap((b) => b.jobs).filter((job) => !job.settled));
        // A staged version does not wait for a dead worker: its replacement loads every wanted version as it starts.
        const loading = [...slot.loading.values()];
        slot.loading.clear();
        for (const pending of loading) {
          if (this.closing) pending.reject(new GanforgeError('OVERLOADED', 'the server is shutting down'));
          else pending.resolve();
        }
        this.releaseRetired();
        if (this.closing) {
          this.checkDrained();
          return;
        }
        this.restarts += 1;
        slot.failures = wasReady ? 0 : slot.failures + 1;
        const delay = slot.failures === 0 ? 0 : Math.min(5_000, 100 * 2 ** slot.failures);
        this.logger({ level: 'warn', event: 'worker-restarted', worker: slot.index, exitCode, failedRequests: running?.jobs.length ?? 0, delayMs: delay });
        setTimeout(() => {
          if (!this.closing) this.spawn(slot).catch(() => {}); // a failed restart is logged and retried by its own exit
        }, delay).unref();
        this.dispatch();
      });
    });
  }

  /** Hands queued work to workers with room (in dispatchOrder), merging same-model requests up to batchLimit. */
  private dispatch(): void {
    for (const slot of this.dispatchOrder()) {
      if (this.queue.length === 0) break;
      if (!slot.ready || slot.batches.length >= PIPELINE_DEPTH || slot.worker === null) continue;
      // Oldest first among the versions this worker has a session for (a worker still loading a new version skips it).
      const headIndex = this.queue.findIndex((job) => slot.loaded.has(job.version.key));
      if (headIndex < 0) continue;
      if (slot.batches.length > 0 && !((this.queue[headIndex]!.version.batchMs ?? Infinity) < PIPELINE_BELOW_BATCH_MS)) continue;
      if (this.shouldWaitForFullerBatch(this.queue[headIndex]!)) continue;
      const limit = this.batchLimit(this.queue[headIndex]!.version);
      const head = this.queue.splice(headIndex, 1)[0]!;
      const jobs = [head];
      let count = head.input.count;
      for (let i = headIndex; i < this.queue.length && count < limit;) {
        const job = this.queue[i]!;
        if (job.version === head.version && count + job.input.count <= limit) {
          jobs.push(job);
          count += job.input.count;
          this.queue.splice(i, 1);
        } else {
          i++;
        }
      }
      const batch: Batch = { id: this.nextBatchId++, model: head.model, version: head.version, jobs, sentAt: performance.now() };
      slot.batches.push(batch);
      this.batches += 1;
      this.mergedRequests += jobs.length - 1;
      if (this.observer !== undefined) {
        const now = performance.now();
        for (const job of jobs) this.observer.queueWaited(batch.model, (now - job.queuedAt) / 1000);
        this.observer.batchDispatched(batch.model, count, jobs.length);
      }
      // Latents are copied, not moved: the caller keeps its input (a timed-out request may be retried with it).
      const parts = jobs.map((j): RunPart => ('latent' in j.input.part ? { count: j.input.count, latent: j.input.part.latent.slice() } : j.input.part));
      const labels = head.input.labels === null ? null : concatInt64(jobs.map((j) => j.input.labels!));
      const transfer: ArrayBuffer[] = parts.flatMap((p) => ('latent' in p ? [p.latent.buffer as ArrayBuffer] : []));
      if (labels !== null) transfer.push(labels.buffer as ArrayBuffer);
      const message: MainToWorker = { type: 'run', id: batch.id, version: batch.version.key, parts, labels, count };
      slot.worker.postMessage(message, transfer);
    }
  }

  /**
   * The order in which workers are offered the queue. For a model whose batches are short (HTTP-bound) the work is
   * packed onto the first workers, each holding PIPELINE_DEPTH batches before the next is woken: one busy thread
   * gets bigger batches and no wake-ups, where spreading small batches over idle threads pays a thread wake-up per
   * batch and leaves fewer cores for the HTTP thread (measured at 32 clients on 2 cores, median of 6 paired rounds:
   * +11% req/s for the mlp generator, +12% for the bundled cgan, the MLP-sized test fixture unchanged). Any other
   * model is spread, least busy worker first, so that inference runs on every core.
   */
  private dispatchOrder(): readonly Slot[] {
    if (this.slots.length === 1) return this.slots;
    const head = this.queue[0];
    const short = head !== undefined && (head.version.batchMs ?? Infinity) < PIPELINE_BELOW_BATCH_MS;
    return short ? this.slots : [...this.slots].sort((a, b) => a.batches.length - b.batches.length);
  }

  /** Most images the next batch of `version` may hold: everything up to maxBatchImages, or a fair share (see FAIR_SHARE_FROM_BATCH_MS). */
  private batchLimit(version: ModelVersion): number {
    if (!((version.batchMs ?? 0) >= FAIR_SHARE_FROM_BATCH_MS)) return this.maxBatchImages;
    let sharers = 0;
    for (const slot of this.slots) if (slot.ready && slot.worker !== null && slot.loaded.has(version.key)) sharers++;
    let images = 0;
    for (const job of this.queue) if (job.version === version) images += job.input.count;
    return Math.min(this.maxBatchImages, Math.max(1, Math.ceil(images / Math.max(1, sharers))));
  }

  /**
   * Whether an idle worker should leave `head` queued a little longer: only while another worker is busy (load is
   * high enough that more requests are coming), the oldest request has waited less than batchDelayMs, and the queue
   * holds fewer than preferredBatchImages images of its version. Schedules the dispatch that ends the wait.
   */
  private shouldWaitForFullerBatch(head: Job): boolean {
    if (this.batchDelayMs === 0 || !this.slots.some((s) => s.batches.length > 0)) return false;
    // Waiting pays only for a model whose batches take less than the wait (HTTP-bound): for a slow one the queue fills
    // while the busy worker runs anyway, and an idle worker would just leave a core unused (measured: a DCGAN
    // generator at 8 clients, 0.95× the throughput of no batching with the wait, none of the loss without it).
    if ((head.version.batchMs ?? 0) >= this.batchDelayMs) return false;
    const deadline = head.queuedAt + this.batchDelayMs;
    const now = performance.now();
    if (now >= deadline) return false;
    let images = 0;
    for (const job of this.queue) if (job.version === head.version) images += job.input.count;
    if (images >= this.preferredBatchImages) return false;
    if (this.delayedDispatch === null || this.delayedDispatch.at > deadline) {
      if (this.delayedDispatch !== null) clearTimeout(this.delayedDispatch.timer);
      const timer = setTimeout(() => {
        this.delayedDispatch = null;
        this.dispatch();
      }, Math.max(0, deadline - now));
      this.delayedDispatch = { timer, at: deadline };
    }
    return true;
  }

  private finishBatch(slot: Slot, message: Extract<WorkerToMain, { type: 'result' | 'error' }>): void {
    // Answers come in the order batches were sent (the worker runs them in turn), but match by id all the same.
    const index = slot.batches.findIndex((b) => b.id === message.id);
    if (index < 0) return;
    const batch = slot.batches.splice(index, 1)[0]!;
    const now = performance.now();
    const ranMs = now - Math.max(batch.sentAt, slot.lastAnsweredAt);
    slot.lastAnsweredAt = now;
    batch.version.batchMs = batch.version.batchMs === undefined ? ranMs : 0.8 * batch.version.batchMs + 0.2 * ranMs;
    if (message.type === 'error') {
      this.logger({ level: 'error', event: 'inference-failed', worker: slot.index, model: batch.model, reason: message.message });
      for (const job of batch.jobs) this.settle(job, new GanforgeError('INTERNAL', `inference failed: ${message.message}`));
    } else {
      const { payload, parts, dims } = message;
      batch.jobs.forEach((job, index) => {
        let part: ResultPart;
        try {
          part = viewPart(payload, parts[index]!);
        } catch (error) {
          this.settle(job, new GanforgeError('INTERNAL', `inference worker ${slot.index} answered with a malformed result: ${error instanceof Error ? error.message : String(error)}`));
          return;
        }
        this.settle(job, null, part, dims);
      });
    }
    this.releaseRetired();
    this.dispatch();
    this.checkDrained();
  }

  private addVersion(model: PoolModel): ModelVersion {
    const key = `${model.name}#${this.nextVersion++}`;
    const spec: WorkerModel = {
      version: key,
      name: model.name,
      bytes: model.bytes,
      device: model.provider ?? this.device,
      latentDim: model.manifest.latentDim,
      latent: model.manifest.inputs.latent,
      label: model.manifest.inputs.label,
      output: model.manifest.output,
      imageShape: model.manifest.imageShape,
      valueRange: model.manifest.valueRange,
    };
    const version: ModelVersion = { key, model, spec, state: 'staged', batchMs: undefined };
    this.versions.set(key, version);
    return version;
  }

  /** Forgets a version and has every worker that holds (or is loading) it release its session. */
  private dropVersion(version: ModelVersion): void {
    this.versions.delete(version.key);
    if (this.current.get(version.model.name) === version) this.current.delete(version.model.name);
    for (const slot of this.slots) {
      if (slot.worker === null || !(slot.loaded.has(version.key) || slot.loading.has(version.key))) continue;
      slot.loaded.delete(version.key);
      // A load still in progress is released by the worker once it completes (messages are handled in order).
      slot.worker.postMessage({ type: 'unload', version: version.key } satisfies MainToWorker);
    }
  }

  /** Drops retiring versions that no queued or running request uses any more. */
  private releaseRetired(): void {
    for (const version of this.versions.values()) {
      if (version.state !== 'retiring') continue;
      if (this.queue.some((j) => j.version === version) || this.slots.some((s) => s.batches.some((b) => b.version === version))) continue;
      this.dropVersion(version);
      this.logger({ level: 'info', event: 'model-version-released', model: version.model.name });
    }
  }

  /** Asks the worker for a session of this version; resolves when it is warm. */
  private loadOn(slot: Slot, version: ModelVersion): Promise<void> {
    if (slot.loaded.has(version.key)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      slot.loading.set(version.key, { resolve, reject });
      slot.worker!.postMessage({ type: 'load', model: version.spec } satisfies MainToWorker);
    });
  }

  /** After a (re)start: load versions added since the worker's start list was made, release ones dropped meanwhile. */
  private syncSessions(slot: Slot): void {
    for (const key of slot.loaded) {
      if (this.versions.has(key)) continue;
      slot.loaded.delete(key);
      slot.worker!.postMessage({ type: 'unload', version: key } satisfies MainToWorker);
    }
    for (const version of this.versions.values()) {
      if (slot.loaded.has(version.key) || slot.loading.has(version.key)) continue;
      this.loadOn(slot, version).catch(() => {}); // logged as worker-model-load-failed; this worker then never runs that version
    }
  }

  private checkProvider(slot: Slot, key: string, report: SessionReport): void {
    const version = this.versions.get(key);
    const expected = version?.model.provider;
    if (expected !== undefined && expected !== report.provider) {
      this.logger({ level: 'warn', event: 'worker-provider-mismatch', worker: slot.index, model: version!.model.name, expected, provider: report.provider, reason: report.fallbackReason });
    }
  }

  private settle(job: Job, error: Error | null, part?: ResultPart, dims: readonly number[] = []): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (error !== null) job.reject(error);
    else job.resolve(part!, dims);
  }

  private checkDrained(): void {
    if (this.drained !== null && this.queue.length === 0 && this.slots.every((s) => s.batches.length === 0)) {
      const done = this.drained;
      this.drained = null;
      done();
    }
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new GanforgeError('TIMEOUT', `the request was cancelled (${String(reason)})`);
}

function concatInt64(parts: BigInt64Array[]): BigInt64Array {
  const out = new BigInt64Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}
