// A pool of inference worker threads (serve/inference-worker.ts) with one queue in front. onnxruntime-node's run()
// blocks the thread that calls it, so the HTTP thread only queues here and awaits. Each worker runs one batch at a
// time; while all are busy, queued requests for the same model are merged into one batch (dynamic batching), which
// changes no response: a latent depends only on seed and index, and every image's row of the graph is computed
// independently (dense layers, BatchNorm in inference form). A worker that dies fails the batch it was running with
// WORKER_CRASHED (503: retrying can succeed), hands back the batches it had not started and is replaced; a request
// never hangs (timeoutMs bounds it).
//
// Models can be added, replaced and removed while serving (serve/model-watcher.ts). Every model version has its own
// key: a request is bound to the version that was current when it was queued, batches never mix versions, and a
// replaced or removed version keeps its worker sessions until its last queued or running request is done. A new
// version becomes current only after every ready worker has created and warmed up its session.
//
// What goes into a batch and which worker gets it: serve/batching-policy.ts (pure); the threads' start, death and
// restart: serve/worker-lifecycle.ts; this file keeps the queue, the model versions and applies the policy's plan.

import { availableParallelism } from 'node:os';
import { GanforgeError } from '../common/errors.ts';
import { truncationInputOf, truncationKindOf, type ModelManifest } from '../common/manifest.ts';
import type { EncodedImages, GeneratorInput, GeneratorOutput, GeneratorRunner, RenderRequest, RunOptions } from '../runtime/generator-runner.ts';
import type { Device } from '../runtime/ort-node.ts';
import { viewPart, type ResultPart } from './batch-payload.ts';
import { planDispatch, type BatchingLimits, type PolicyWorker } from './batching-policy.ts';
import type { Logger } from './logger.ts';
import { emptySlot, loadOn, spawnWorker, unloadOn, type WorkerHost, type WorkerSlot } from './worker-lifecycle.ts';
import type { MainToWorker, RunPart, SessionReport, WorkerModel, WorkerToMain } from './worker-protocol.ts';

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
  /**
   * Milliseconds for queue waits, the batching delay and batch run times, which decide how batches are formed
   * (serve/batching-policy.ts). Tests pin it (a frozen clock makes every model's batches "short", one that jumps ahead
   * at each read makes them "long") so that the outcome does not depend on how fast a busy machine runs. Default performance.now.
   */
  clock?: () => number;
}

/** Hooks for metrics; called synchronously on the HTTP thread, so they must be cheap and must not throw. */
export interface PoolObserver {
  /** A batch went to a worker: `images` images merged from `requests` requests of one model. */
  batchDispatched(model: string, images: number, requests: number): void;
  /** A request left the queue for a worker after waiting `seconds`. */
  queueWaited(model: string, seconds: number): void;
}

export interface PoolStats {
  workers: number;
  ready: number;
  busy: number;
  queuedRequests: number;
  /** Batches sent to workers and not answered yet, over all workers (a busy worker may hold a second: pipelining). */
  heldBatches: number;
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

interface ModelVersion {
  key: string;
  model: PoolModel;
  spec: WorkerModel;
  state: ModelVersionInfo['state'];
  /** Moving average of how long a worker takes to run one batch of this version, ms; undefined until one has run. */
  batchMs: number | undefined;
}

interface Job {
  model: string;
  /** input.count, under the name the batching policy reads. */
  images: number;
  version: ModelVersion;
  input: { count: number; labels: BigInt64Array | null; part: RunPart };
  /** `dims` are the batch's output dims (first one is the batch size). */
  resolve: (part: ResultPart, dims: readonly number[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
  /** clock() when queued. */
  queuedAt: number;
}

interface Batch {
  id: number;
  model: string;
  version: ModelVersion;
  jobs: Job[];
  /** clock() when it was posted to its worker. */
  sentAt: number;
}

/** Longest a staged model version may take to be loaded and warmed up by every worker. */
const STAGE_TIMEOUT_MS = 120_000;

export class InferencePool implements GeneratorRunner {
  private readonly slots: WorkerSlot<Batch>[] = [];
  private readonly queue: Job[] = [];
  /** Name → the version new requests use. */
  private readonly current = new Map<string, ModelVersion>();
  /** Key → every version workers should hold: current, staged and retiring ones. */
  private readonly versions = new Map<string, ModelVersion>();
  private readonly device: Device;
  private readonly intraOpNumThreads: number;
  private readonly allowSpinning: boolean;
  private readonly logger: Logger;
  private readonly limits: BatchingLimits;
  private readonly clock: () => number;
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
    const maxBatchImages = options.maxBatchImages ?? 64;
    this.limits = { maxBatchImages, batchDelayMs: options.batchDelayMs ?? 2, preferredBatchImages: Math.min(options.preferredBatchImages ?? 16, maxBatchImages) };
    this.clock = options.clock ?? (() => performance.now());
    this.maxQueuedImages = options.maxQueuedImages ?? 1024;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.observer = options.observer;
    for (let index = 0; index < workers; index++) {
      this.slots.push(emptySlot(index));
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
      await Promise.all(pool.slots.map((slot) => spawnWorker(slot, pool.host)));
    } catch (error) {
      pool.closing = true;
      await Promise.all(pool.slots.flatMap((s) => (s.worker === null ? [] : [s.worker.terminate()])));
      throw error;
    }
    return pool;
  }

  run(model: string, input: GeneratorInput, options: RunOptions = {}): Promise<GeneratorOutput> {
    const part: RunPart = { count: input.count, latent: input.latent, ...(input.psi ? { psi: input.psi } : {}), ...(input.mix ? { mix: input.mix } : {}) };
    return this.enqueue(model, { count: input.count, labels: input.labels, part }, options).then(({ part, dims }) => {
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
        images: input.count,
        resolve: (part, dims) => { signal?.removeEventListener('abort', onAbort); resolve({ part, dims }); },
        reject: (error) => { signal?.removeEventListener('abort', onAbort); reject(error); },
        settled: false,
        queuedAt: this.clock(),
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
      heldBatches: this.slots.reduce((sum, s) => sum + s.batches.length, 0),
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
      await Promise.race([Promise.all(this.slots.filter((s) => s.ready && s.worker !== null).map((s) => loadOn(s, version.spec))), timedOut]);
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
   * Kills one worker as a crash would: its running batch fails with WORKER_CRASHED and a fresh worker replaces it. For
   * recovery tests and for recycling a worker; resolves once the thread has exited.
   * - 'exit' (default): the worker exits at its next JS turn, and any result it still produces is dropped.
   * - 'throw-in-run': the next batch it runs throws an uncaught exception once onnxruntime's run() has returned, as a
   *   fault inside inference would (the worker's batches before that one are answered normally).
   * Never Worker.terminate(): terminating a thread inside onnxruntime's native run() aborts the whole process
   * (checked with onnxruntime-node 1.30: "terminate called after throwing an instance of 'Napi::Error'").
   */
  async killWorker(index: number, how: 'exit' | 'throw-in-run' = 'exit'): Promise<void> {
    const worker = this.slotAt(index).worker;
    if (worker === null) return;
    // Not events.once: that rejects on the 'error' a worker emits when it dies of an uncaught exception.
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    if (how === 'exit') {
      worker.removeAllListeners('message');
      worker.postMessage({ type: 'exit', code: 70 } satisfies MainToWorker);
    } else {
      worker.postMessage({ type: 'fault', fault: how } satisfies MainToWorker);
    }
    await exited;
  }

  /**
   * Blocks one worker's thread, as a hung native call would, until the returned function is called: batches sent to
   * it wait in its message queue. For tests of timeouts and of queueing that must not depend on how fast a batch runs.
   */
  stallWorker(index: number): () => void {
    const worker = this.slotAt(index).worker;
    if (worker === null) throw new GanforgeError('OVERLOADED', `inference worker ${index} is not running`);
    const signal = new SharedArrayBuffer(4);
    worker.postMessage({ type: 'stall', signal } satisfies MainToWorker);
    return () => {
      const flag = new Int32Array(signal);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    };
  }

  private slotAt(index: number): WorkerSlot<Batch> {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`'index' must be an integer in [0, ${this.slots.length - 1}], got ${index}`);
    return slot;
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

  /** The pool's side of its workers' lives (serve/worker-lifecycle.ts). */
  private readonly host: WorkerHost<Batch> = {
    logger: (entry) => this.logger(entry),
    closing: () => this.closing,
    init: () => ({ models: [...this.versions.values()].map((v) => v.spec), intraOpNumThreads: this.intraOpNumThreads, allowSpinning: this.allowSpinning }),
    modelName: (key) => this.versions.get(key)?.model.name,
    wants: (key) => this.versions.has(key),
    sessionReported: (slot, key, report) => this.checkProvider(slot, key, report),
    changed: () => this.dispatch(),
    answered: (slot, message) => this.finishBatch(slot, message),
    exited: (slot, { exitCode, running, unstarted, restartInMs }) => {
      // Not INTERNAL: the request itself may be fine (another worker, or this one's replacement, can answer it), so
      // the client gets a 503 with a code it can retry on. It is not retried here: a request that crashes its worker
      // would otherwise take down every worker in turn.
      for (const job of running?.jobs ?? []) {
        this.settle(job, new GanforgeError('WORKER_CRASHED', `inference worker ${slot.index} stopped (exit code ${exitCode}) while running this request; it is being replaced, retry`));
      }
      // Batches still waiting in its message queue never started: back to the front of the queue for another worker.
      this.queue.unshift(...unstarted.flatMap((b) => b.jobs).filter((job) => !job.settled));
      this.releaseRetired();
      if (restartInMs === null) {
        this.checkDrained();
        return;
      }
      this.restarts += 1;
      this.logger({ level: 'warn', event: 'worker-restarted', worker: slot.index, exitCode, failedRequests: running?.jobs.length ?? 0, delayMs: restartInMs });
      this.dispatch();
    },
  };

  /**
   * Hands queued work to workers with room, as serve/batching-policy.ts plans it, and arms the wake-up of a worker
   * that waits for a fuller batch.
   */
  private dispatch(): void {
    if (this.queue.length === 0) return;
    const now = this.clock();
    const workers = this.slots.map((slot): PolicyWorker => ({ available: slot.ready && slot.worker !== null, held: slot.batches.length, loaded: slot.loaded }));
    const plan = planDispatch({ queue: this.queue, workers, now }, this.limits);
    if (plan.wakeAt !== undefined && (this.delayedDispatch === null || this.delayedDispatch.at > plan.wakeAt)) {
      if (this.delayedDispatch !== null) clearTimeout(this.delayedDispatch.timer);
      const timer = setTimeout(() => {
        this.delayedDispatch = null;
        this.dispatch();
      }, Math.max(0, plan.wakeAt - now));
      this.delayedDispatch = { timer, at: plan.wakeAt };
    }
    if (plan.batches.length === 0) return;
    const planned = plan.batches.map((b) => ({ slot: this.slots[b.worker]!, jobs: b.requests.map((i) => this.queue[i]!), images: b.images }));
    const taken = new Set(planned.flatMap((b) => b.jobs));
    let kept = 0;
    for (const job of this.queue) if (!taken.has(job)) this.queue[kept++] = job;
    this.queue.length = kept;
    for (const { slot, jobs, images } of planned) this.send(slot, jobs, images);
  }

  /** Posts one planned batch to its worker. */
  private send(slot: WorkerSlot<Batch>, jobs: Job[], count: number): void {
    const head = jobs[0]!;
    const batch: Batch = { id: this.nextBatchId++, model: head.model, version: head.version, jobs, sentAt: this.clock() };
    slot.batches.push(batch);
    this.batches += 1;
    this.mergedRequests += jobs.length - 1;
    if (this.observer !== undefined) {
      const now = this.clock();
      for (const job of jobs) this.observer.queueWaited(batch.model, (now - job.queuedAt) / 1000);
      this.observer.batchDispatched(batch.model, count, jobs.length);
    }
    // Latents are copied, not moved: the caller keeps its input (a timed-out request may be retried with it).
    const parts = jobs.map((j): RunPart => {
      const part = j.input.part;
      if (!('latent' in part)) return part;
      return {
        count: j.input.count, latent: part.latent.slice(), ...(part.psi ? { psi: part.psi.slice() } : {}),
        ...(part.mix ? { mix: { latent: part.mix.latent.slice(), from: part.mix.from.slice() } } : {}),
      };
    });
    const labels = head.input.labels === null ? null : concatInt64(jobs.map((j) => j.input.labels!));
    const transfer: ArrayBuffer[] = parts.flatMap((p) => ('latent' in p
      ? [p.latent.buffer as ArrayBuffer, ...(p.psi ? [p.psi.buffer as ArrayBuffer] : []), ...(p.mix ? [p.mix.latent.buffer as ArrayBuffer, p.mix.from.buffer as ArrayBuffer] : [])]
      : []));
    if (labels !== null) transfer.push(labels.buffer as ArrayBuffer);
    const message: MainToWorker = { type: 'run', id: batch.id, version: batch.version.key, parts, labels, count };
    slot.worker!.postMessage(message, transfer);
  }

  private finishBatch(slot: WorkerSlot<Batch>, message: Extract<WorkerToMain, { type: 'result' | 'error' }>): void {
    // Answers come in the order batches were sent (the worker runs them in turn), but match by id all the same.
    const index = slot.batches.findIndex((b) => b.id === message.id);
    if (index < 0) return;
    const batch = slot.batches.splice(index, 1)[0]!;
    const now = this.clock();
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
      truncationKind: truncationKindOf(model.manifest),
      psiInput: truncationInputOf(model.manifest),
      ...(model.manifest.styleMixing === undefined ? {} : { styleMixing: model.manifest.styleMixing }),
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
    for (const slot of this.slots) unloadOn(slot, version.key);
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

  private checkProvider(slot: WorkerSlot<Batch>, key: string, report: SessionReport): void {
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
