// The batching policy (serve/batching-policy.ts) decided on explicit queue, worker and clock states: every rule the
// pool's throughput rests on, checked without threads or timers, so a busy machine cannot change the outcome.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FAIR_SHARE_FROM_BATCH_MS, PIPELINE_BELOW_BATCH_MS, PIPELINE_DEPTH, planDispatch,
  type BatchingLimits, type PolicyVersion, type PolicyWorker, type QueuedRequest,
} from '../../serve/batching-policy.ts';

const LIMITS: BatchingLimits = { maxBatchImages: 64, batchDelayMs: 2, preferredBatchImages: 16 };
const NO_DELAY: BatchingLimits = { ...LIMITS, batchDelayMs: 0 };
const version = (key: string, batchMs: number | undefined): PolicyVersion => ({ key, batchMs });
const short = version('small#1', 1); // HTTP-bound: below PIPELINE_BELOW_BATCH_MS and FAIR_SHARE_FROM_BATCH_MS
const long = version('slow#2', 100); // inference-bound
const unmeasured = version('new#3', undefined);
const request = (v: PolicyVersion, images = 1, queuedAt = 0): QueuedRequest => ({ version: v, images, queuedAt });
const worker = (held: number, loaded: PolicyVersion[] = [short, long, unmeasured], available = true): PolicyWorker => ({ available, held, loaded: new Set(loaded.map((v) => v.key)) });
const plan = (queue: QueuedRequest[], workers: PolicyWorker[], limits = LIMITS, now = 0) => planDispatch({ queue, workers, now }, limits);

test('the thresholds the policy is tuned with', () => {
  assert.deepEqual([PIPELINE_DEPTH, PIPELINE_BELOW_BATCH_MS, FAIR_SHARE_FROM_BATCH_MS], [2, 5, 2]);
});

test('a lone request on an idle pool goes out at once, however long the delay', () => {
  const result = plan([request(short)], [worker(0), worker(0)], { ...LIMITS, batchDelayMs: 1_000 });
  assert.deepEqual(result, { batches: [{ worker: 0, requests: [0], images: 1 }], wakeAt: undefined });
});

test('while another worker is busy, an idle one waits for a fuller batch until the oldest request has waited batchDelayMs', () => {
  const limits = { ...LIMITS, batchDelayMs: 10 };
  const queue = [request(short, 1, 100), request(short, 1, 104), request(short, 1, 108)];
  // Worker 0 holds two batches of another model (full), worker 1 is idle: it waits until 100 + 10.
  const busy = [worker(2), worker(0)];
  assert.deepEqual(plan(queue, busy, limits, 109), { batches: [], wakeAt: 110 });
  // At the deadline the three go out as one batch.
  assert.deepEqual(plan(queue, busy, limits, 110), { batches: [{ worker: 1, requests: [0, 1, 2], images: 3 }], wakeAt: undefined });
  // With no delay, the first request would have gone alone.
  assert.deepEqual(plan(queue.slice(0, 1), busy, NO_DELAY, 100).batches, [{ worker: 1, requests: [0], images: 1 }]);
});

test('the wait ends as soon as preferredBatchImages images of the version are queued', () => {
  const limits = { ...LIMITS, batchDelayMs: 1_000, preferredBatchImages: 4 };
  const busy = [worker(2), worker(0)];
  assert.equal(plan([request(short, 2)], busy, limits).wakeAt, 1_000);
  assert.deepEqual(plan([request(short, 2), request(short, 2)], busy, limits).batches, [{ worker: 1, requests: [0, 1], images: 4 }]);
  // Images of another version do not count.
  assert.deepEqual(plan([request(short, 2), request(version('other#9', 1), 2)], [worker(2), worker(0, [short])], limits).batches, []);
});

test('no waiting for a model whose batches take at least the delay: the idle worker starts at once', () => {
  const busy = [worker(2), worker(0)];
  assert.deepEqual(plan([request(long)], busy, { ...LIMITS, batchDelayMs: 1_000 }).batches, [], 'a 100 ms batch waits for company with a 1 s delay');
  assert.deepEqual(plan([request(long)], busy, { ...LIMITS, batchDelayMs: 5 }).batches, [{ worker: 1, requests: [0], images: 1 }]);
});

test('short batches are packed onto the first worker (it holds a second one) instead of waking an idle one', () => {
  // Worker 0 runs one short batch, worker 1 is idle: the next short batch goes to worker 0.
  assert.deepEqual(plan([request(short)], [worker(1), worker(0)], NO_DELAY).batches, [{ worker: 0, requests: [0], images: 1 }]);
  // Two requests that arrive one after the other, as the pool dispatches at each arrival: both on worker 0.
  const first = plan([request(short)], [worker(0), worker(0)], NO_DELAY).batches;
  const second = plan([request(short)], [worker(1), worker(0)], NO_DELAY).batches;
  assert.deepEqual([first[0]!.worker, second[0]!.worker], [0, 0]);
  // A worker never holds more than PIPELINE_DEPTH batches: then the idle one is woken.
  assert.deepEqual(plan([request(short)], [worker(PIPELINE_DEPTH), worker(0)], NO_DELAY).batches, [{ worker: 1, requests: [0], images: 1 }]);
});

test('long batches are spread, least busy worker first, and never handed to a busy worker', () => {
  assert.deepEqual(plan([request(long, 8)], [worker(1), worker(0)], NO_DELAY).batches, [{ worker: 1, requests: [0], images: 8 }]);
  assert.deepEqual(plan([request(long, 8)], [worker(1), worker(1)], NO_DELAY).batches, [], 'formed later, from everything queued meanwhile');
  // A model that has not run yet counts as long: nothing is pipelined on a guess.
  assert.deepEqual(plan([request(unmeasured)], [worker(1)], NO_DELAY).batches, []);
  assert.deepEqual(plan([request(short)], [worker(1)], NO_DELAY).batches, [{ worker: 0, requests: [0], images: 1 }]);
});

test('an inference-bound model: a free worker takes its fair share of the queue, a fast one takes everything', () => {
  const six = Array.from({ length: 6 }, () => request(long));
  // ceil(6 queued / 2 workers that can run it) = 3, then ceil(3 still queued / 2) = 2; the last waits for a free worker.
  assert.deepEqual(plan(six, [worker(0), worker(0)], NO_DELAY).batches, [
    { worker: 0, requests: [0, 1, 2], images: 3 },
    { worker: 1, requests: [3, 4], images: 2 },
  ]);
  // A worker that has not loaded the model is no sharer.
  assert.deepEqual(plan(six, [worker(0), worker(0, [short])], NO_DELAY).batches, [{ worker: 0, requests: [0, 1, 2, 3, 4, 5], images: 6 }]);
  const fast = Array.from({ length: 6 }, () => request(short));
  assert.deepEqual(plan(fast, [worker(0), worker(0)], NO_DELAY).batches, [{ worker: 0, requests: [0, 1, 2, 3, 4, 5], images: 6 }]);
});

test('a batch holds one version, oldest first, up to maxBatchImages, skipping a request that does not fit', () => {
  const other = version('small#4', 1);
  const queue = [request(short, 3), request(other, 1), request(short, 3), request(short, 1)];
  const limits = { ...NO_DELAY, maxBatchImages: 4 };
  assert.deepEqual(plan(queue, [worker(0, [short, other])], limits).batches, [{ worker: 0, requests: [0, 3], images: 4 }]);
  // A request larger than the limit still goes out, alone.
  assert.deepEqual(plan([request(short, 9), request(short, 1)], [worker(0)], limits).batches, [{ worker: 0, requests: [0], images: 9 }]);
});

test('a worker takes the oldest request of a version it has loaded; unavailable workers get nothing', () => {
  const staged = version('small#5', 1);
  const queue = [request(staged), request(short)];
  assert.deepEqual(plan(queue, [worker(0, [short])], NO_DELAY).batches, [{ worker: 0, requests: [1], images: 1 }]);
  assert.deepEqual(plan(queue, [worker(0, [short, staged], false)], NO_DELAY).batches, []);
  assert.deepEqual(plan([], [worker(0)], NO_DELAY), { batches: [], wakeAt: undefined });
});

test('the plan reads its state without changing it, and the earliest deadline is the wake-up', () => {
  const queue = Object.freeze([request(short, 1, 7), request(version('small#6', 1), 1, 3)]);
  const workers = Object.freeze([worker(2), worker(0, [short]), worker(0, [version('small#6', 1)])]);
  const result = planDispatch({ queue, workers, now: 5 }, { ...LIMITS, batchDelayMs: 10 });
  assert.deepEqual(result, { batches: [], wakeAt: 13 });
  assert.equal(queue.length, 2);
  assert.deepEqual(workers.map((w) => w.held), [2, 0, 0]);
});
