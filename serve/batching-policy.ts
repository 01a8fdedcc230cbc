// The inference pool's queue and batching policy as a pure function of the queue, the workers and the clock: which
// worker gets which queued requests now, and when to look again. serve/inference-pool.ts applies the plan (posts the
// batches, arms the wake-up); keeping the decision free of threads and timers lets tests pin every rule exactly
// (test/serve/batching-policy.test.ts) instead of hoping a busy machine schedules threads the way they expect.

/** What the policy reads of a model version. */
export interface PolicyVersion {
  /** Unique version key (the pool's). */
  readonly key: string;
  /** Moving average of one batch's run time on a worker, ms; undefined until one has run. */
  readonly batchMs: number | undefined;
}

/** What the policy reads of a queued request. */
export interface QueuedRequest {
  readonly version: PolicyVersion;
  /** Images it asks for. */
  readonly images: number;
  /** Clock time (ms) when it was queued. */
  readonly queuedAt: number;
}

/** What the policy reads of a worker. */
export interface PolicyWorker {
  /** Started, and not dead: it can take a batch. */
  readonly available: boolean;
  /** Batches sent to it and not answered yet (the running one first). */
  readonly held: number;
  /** Version keys it holds a warm session for. */
  readonly loaded: ReadonlySet<string>;
}

export interface BatchingLimits {
  /** Largest merged batch, in images. */
  maxBatchImages: number;
  /** How long an idle worker may wait for a fuller batch while another is busy, ms (0 = never). */
  batchDelayMs: number;
  /** Queued images of one version at which the wait ends. */
  preferredBatchImages: number;
}

export interface DispatchState<R extends QueuedRequest = QueuedRequest> {
  /** Oldest first. */
  readonly queue: readonly R[];
  /** In the pool's order (index = worker index). */
  readonly workers: readonly PolicyWorker[];
  /** Clock time, ms (the same clock as queuedAt). */
  readonly now: number;
}

export interface PlannedBatch {
  /** Index into state.workers. */
  worker: number;
  /** Indices into state.queue, in queue order (the oldest first): one version, at most maxBatchImages images. */
  requests: number[];
  images: number;
}

export interface DispatchPlan {
  /** At most one batch per worker, in the order they were decided. */
  batches: PlannedBatch[];
  /** Clock time at which a worker stops waiting for a fuller batch and the plan must be made again; undefined if none waits. */
  wakeAt: number | undefined;
}

/**
 * Batches a worker may hold: the one it runs and one waiting in its message queue. With the next batch already queued
 * the worker goes straight on instead of sleeping until the HTTP thread has handled the last result and sent more:
 * waking an idle thread costs ~130 µs of CPU and ~300 µs of latency per round trip on the 2-core VM this was
 * measured on (a bare postMessage ping-pong), which at ~500 batches/s is a tenth of the machine.
 */
export const PIPELINE_DEPTH = 2;
/**
 * A second batch goes to a busy worker only for a model whose batches take less than this: then the wake-up is a real
 * share of the work. For a slower model the next batch is better formed when the worker is free, from everything that
 * queued meanwhile (bigger batches; measured on a DCGAN generator at 32 clients: mean batch 4.2 pipelined vs 7.3).
 */
export const PIPELINE_BELOW_BATCH_MS = 5;
/**
 * For a model whose batches take at least this long (inference-bound), a free worker takes its fair share of the
 * queue, the queued images divided by the workers that can run the model, rather than all of it: on a CPU a batch
 * gains little per image (onnxruntime's ConvTranspose runs image by image), while a worker left with an empty queue
 * leaves a core idle until the big batch is done (measured on a DCGAN generator, median of 6 paired rounds: +11% req/s
 * at 8 clients, where greedy batching had fallen to 0.90× one request per run(), and +4% at 32). Faster models keep
 * taking everything queued: their cost is per run, not per image (the bundled cgan: unchanged).
 */
export const FAIR_SHARE_FROM_BATCH_MS = 2;

/** Whether a version's batches are known to be short (HTTP-bound); an unmeasured one is not. */
function isShort(version: PolicyVersion): boolean {
  return (version.batchMs ?? Infinity) < PIPELINE_BELOW_BATCH_MS;
}

/**
 * Decides what to hand out now. Each worker with room (fewer than PIPELINE_DEPTH batches, and a second one only for a
 * short model) is offered, in turn, the oldest queued request of a version it has loaded, merged with the later
 * requests of that version up to the batch limit, unless it should wait for a fuller batch.
 *
 * The order workers are offered the queue: for a model whose batches are short (HTTP-bound) the work is packed onto
 * the first workers, each holding PIPELINE_DEPTH batches before the next is woken: one busy thread gets bigger batches
 * and no wake-ups, where spreading small batches over idle threads pays a thread wake-up per batch and leaves fewer
 * cores for the HTTP thread (measured at 32 clients on 2 cores, median of 6 paired rounds: +11% req/s for the mlp
 * generator, +12% for the bundled cgan, the MLP-sized test fixture unchanged). Any other model is spread, least busy
 * worker first, so that inference runs on every core.
 */
export function planDispatch(state: DispatchState, limits: BatchingLimits): DispatchPlan {
  const { queue, workers, now } = state;
  const taken = new Array<boolean>(queue.length).fill(false);
  const held = workers.map((w) => w.held);
  let remaining = queue.length;
  const batches: PlannedBatch[] = [];
  let wakeAt: number | undefined;
  const order = workers.map((_w, i) => i);
  const first = queue[0];
  if (workers.length > 1 && !(first !== undefined && isShort(first.version))) order.sort((a, b) => held[a]! - held[b]!); // stable: ties keep worker order

  const queuedImages = (version: PolicyVersion): number => {
    let images = 0;
    for (let i = 0; i < queue.length; i++) if (!taken[i] && queue[i]!.version === version) images += queue[i]!.images;
    return images;
  };

  for (const w of order) {
    if (remaining === 0) break;
    const worker = workers[w]!;
    if (!worker.available || held[w]! >= PIPELINE_DEPTH) continue;
    // Oldest first among the versions this worker has a session for (a worker still loading a new version skips it).
    let headIndex = -1;
    for (let i = 0; i < queue.length; i++) {
      if (!taken[i] && worker.loaded.has(queue[i]!.version.key)) { headIndex = i; break; }
    }
    if (headIndex < 0) continue;
    const head = queue[headIndex]!;
    if (held[w]! > 0 && !isShort(head.version)) continue;
    const wait = waitUntil(head, held, now, limits, queuedImages);
    if (wait !== undefined) {
      wakeAt = wakeAt === undefined ? wait : Math.min(wakeAt, wait);
      continue;
    }
    const limit = batchLimit(head.version, workers, limits.maxBatchImages, queuedImages);
    const requests = [headIndex];
    taken[headIndex] = true;
    let images = head.images;
    for (let i = headIndex + 1; i < queue.length && images < limit; i++) {
      const request = queue[i]!;
      if (taken[i] || request.version !== head.version || images + request.images > limit) continue;
      requests.push(i);
      taken[i] = true;
      images += request.images;
    }
    remaining -= requests.length;
    held[w]! += 1;
    batches.push({ worker: w, requests, images });
  }
  return { batches, wakeAt };
}

/**
 * Most images the next batch of `version` may hold: everything up to maxBatchImages, or for an inference-bound model
 * a fair share, the queued images divided by the workers that can run it (see FAIR_SHARE_FROM_BATCH_MS).
 */
function batchLimit(version: PolicyVersion, workers: readonly PolicyWorker[], maxBatchImages: number, queuedImages: (v: PolicyVersion) => number): number {
  if (!((version.batchMs ?? 0) >= FAIR_SHARE_FROM_BATCH_MS)) return maxBatchImages;
  let sharers = 0;
  for (const worker of workers) if (worker.available && worker.loaded.has(version.key)) sharers++;
  // The head itself is counted: it is still queued when the limit is taken.
  return Math.min(maxBatchImages, Math.max(1, Math.ceil(queuedImages(version) / Math.max(1, sharers))));
}

/**
 * When an idle worker should stop leaving `head` queued, or undefined to dispatch it now. It waits only while another
 * worker is busy (load is high enough that more requests are coming), the oldest request has waited less than
 * batchDelayMs, and the queue holds fewer than preferredBatchImages images of its version.
 */
function waitUntil(head: QueuedRequest, held: readonly number[], now: number, limits: BatchingLimits, queuedImages: (v: PolicyVersion) => number): number | undefined {
  if (limits.batchDelayMs === 0 || !held.some((h) => h > 0)) return undefined;
  // Waiting pays only for a model whose batches take less than the wait (HTTP-bound): for a slow one the queue fills
  // while the busy worker runs anyway, and an idle worker would just leave a core unused (measured: a DCGAN
  // generator at 8 clients, 0.95× the throughput of no batching with the wait, none of the loss without it).
  if ((head.version.batchMs ?? 0) >= limits.batchDelayMs) return undefined;
  const deadline = head.queuedAt + limits.batchDelayMs;
  if (now >= deadline) return undefined;
  if (queuedImages(head.version) >= limits.preferredBatchImages) return undefined;
  return deadline;
}
