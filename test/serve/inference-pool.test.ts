// The worker pool: results equal a direct onnxruntime run, merged batches give each request exactly its solo result,
// and crashes, overload and timeouts end requests cleanly instead of hanging them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GanforgeError } from '../../common/errors.ts';
import { sampleLatents } from '../../common/latents.ts';
import type { GeneratorInput } from '../../runtime/generator-runner.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import type { LogEntry } from '../../serve/logger.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { DIGIT_CLASSES, poolModel } from './serve-fixtures.ts';

const small = poolModel('small', {});
const digits = poolModel('digits', { classes: DIGIT_CLASSES });
// Heavy enough that a batch is still running when the next requests arrive (≈50–150 ms at n=64 on 2 cores).
const slow = poolModel('slow', { slowLayers: 12, slowWidth: 1024, weightSeed: 5 });

let pool: InferencePool;
const logs: LogEntry[] = [];

before(async () => {
  // The clock jumps a second at each read, so every batch measures as long (serve/batching-policy.ts): nothing is
  // handed to a busy worker and requests queued meanwhile merge once it is free, however fast this machine runs.
  let ticks = 0;
  pool = await InferencePool.start({ models: [small, digits, slow], device: 'cpu', workers: 1, logger: (e) => logs.push(e), clock: () => (ticks += 1_000) });
});
after(() => pool.close());

const input = (latentDim: number, count: number, seed: number, labels: number[] | null = null): GeneratorInput => ({
  latent: sampleLatents({ latentDim, count, seed }),
  labels: labels === null ? null : BigInt64Array.from(labels, BigInt),
  count,
});

test('a pool run equals a direct onnxruntime run of the same model', async () => {
  const request = input(8, 3, 11, [0, 2, 1]);
  const { session } = await createNodeSession(digits.bytes, { device: 'cpu' });
  const direct = await session.run({
    z: new ort.Tensor('float32', request.latent, [3, 8]),
    label: new ort.Tensor('int64', request.labels!, [3]),
  });
  await session.release();
  const pooled = await pool.run('digits', request);
  assert.deepEqual(pooled.dims, [3, 6, 5, 1]);
  assert.deepEqual([...pooled.data], [...(direct.image!.data as Float32Array)]);
  assert.equal(request.latent.length, 24, "the caller's latent array is not transferred away");
});

test('queued same-model requests are merged, and each gets exactly its solo result', async () => {
  const before = pool.stats();
  const blocker = pool.run('slow', input(8, 64, 1));
  const requests = [1, 2, 3, 1, 4, 2].map((count, i) => input(8, count, 100 + i));
  const merged = await Promise.all(requests.map((r) => pool.run('slow', r)));
  await blocker;
  const after = pool.stats();
  assert.equal(after.batches - before.batches, 2, 'the blocker, then one merged batch');
  assert.equal(after.mergedRequests - before.mergedRequests, requests.length - 1);
  for (const [i, request] of requests.entries()) {
    const solo = await pool.run('slow', request);
    assert.deepEqual(merged[i]!.dims, [request.count, 6, 5, 1]);
    assert.deepEqual(merged[i]!.data, solo.data, `request ${i}`);
  }
});

test('different models are never merged into one batch', async () => {
  const before = pool.stats();
  const blocker = pool.run('slow', input(8, 32, 2));
  const results = await Promise.all([pool.run('small', input(8, 1, 1)), pool.run('digits', input(8, 1, 1, [1])), pool.run('small', input(8, 2, 2))]);
  await blocker;
  assert.equal(pool.stats().batches - before.batches, 3, 'slow; small+small; digits');
  assert.deepEqual(results.map((r) => r.dims[0]), [1, 1, 2]);
});

test('a killed worker fails its batch with WORKER_CRASHED, is restarted, and the pool keeps serving', async () => {
  const restarts = pool.stats().restarts;
  const running = pool.run('slow', input(8, 64, 3));
  const queued = pool.run('small', input(8, 1, 4));
  // The run message is already posted; from this call on, whatever the worker answers is dropped.
  await pool.killWorker(0);
  await assert.rejects(running, (error: unknown) => error instanceof GanforgeError && error.code === 'WORKER_CRASHED' && /worker 0 stopped \(exit code 70\)/.test(error.message));
  // The queued request was not in the dead worker; it runs on the replacement.
  assert.deepEqual((await queued).dims, [1, 6, 5, 1]);
  assert.equal(pool.stats().restarts, restarts + 1);
  assert.ok(logs.some((e) => e.event === 'worker-restarted' && e.failedRequests === 1));
  assert.deepEqual((await pool.run('small', input(8, 2, 5))).dims, [2, 6, 5, 1]);
});

test('unknown models, wrong inputs, overload and timeouts are clean errors', async () => {
  await assert.rejects(pool.run('nope', input(8, 1, 1)), (e: unknown) => e instanceof GanforgeError && e.code === 'UNKNOWN_MODEL');
  await assert.rejects(pool.run('small', input(7, 1, 1)), RangeError);
  await assert.rejects(pool.run('digits', input(8, 1, 1)), /needs 1 labels/);
  // The only worker is stalled (as a hung native call would leave it): the first request waits inside it and the
  // second in the queue, so both time out whatever this machine's speed, and the late answer to the first is dropped.
  const tight = await InferencePool.start({ models: [slow], device: 'cpu', workers: 1, maxQueuedImages: 130, timeoutMs: 10 });
  const release = tight.stallWorker(0);
  try {
    const first = tight.run('slow', input(8, 64, 1));
    const second = tight.run('slow', input(8, 64, 2));
    await assert.rejects(tight.run('slow', input(8, 8, 3)), (e: unknown) => e instanceof GanforgeError && e.code === 'OVERLOADED' && /limit 130/.test(e.message));
    await assert.rejects(first, (e: unknown) => e instanceof GanforgeError && e.code === 'TIMEOUT' && /10 ms/.test(e.message));
    await assert.rejects(second, (e: unknown) => e instanceof GanforgeError && e.code === 'TIMEOUT' && /10 ms/.test(e.message));
    assert.equal(tight.stats().queuedRequests, 0);
  } finally {
    release();
    await tight.close();
  }
});

test('aborting a queued request withdraws it before it reaches a worker', async () => {
  const before = pool.stats();
  const blocker = pool.run('slow', input(8, 64, 6));
  const controller = new AbortController();
  const withdrawn = pool.run('small', input(8, 1, 7), { signal: controller.signal });
  assert.equal(pool.stats().queuedRequests, 1);
  controller.abort(new Error('client went away'));
  await assert.rejects(withdrawn, /client went away/);
  assert.equal(pool.stats().queuedRequests, 0);
  await blocker;
  assert.equal(pool.stats().batches - before.batches, 1, 'only the blocker ran');
  await assert.rejects(pool.run('small', input(8, 1, 7), { signal: AbortSignal.abort(new Error('already')) }), /already/);
});

test('option ranges are checked', async () => {
  await assert.rejects(InferencePool.start({ models: [small], workers: 0 }), /'workers' must be an integer in \[1, 64\], got 0/);
  await assert.rejects(InferencePool.start({ models: [small], maxBatchImages: 0 }), RangeError);
});

test('a staged version serves only after activate(); queued requests keep their version and are never merged across versions', async () => {
  const v1 = poolModel('swap', { weightSeed: 21 });
  const v2 = poolModel('swap', { weightSeed: 22 });
  const staged = await pool.stageModel(v1);
  await assert.rejects(pool.run('swap', input(8, 1, 1)), (e: unknown) => e instanceof GanforgeError && e.code === 'UNKNOWN_MODEL', 'staged is not served yet');
  staged.activate();
  const inputs = [input(8, 2, 31), input(8, 1, 32)];
  const soloV1 = await Promise.all(inputs.map((i) => pool.run('swap', i)));
  // v2 is staged (warm in the worker) first; then, in one turn, v1 requests queue behind a slow batch, v2 becomes
  // current and v2 requests queue too. A batch mixing them would run on one version's session and give the other
  // version's request the wrong values.
  const stagedV2 = await pool.stageModel(v2);
  const before = pool.stats();
  const blocker = pool.run('slow', input(8, 64, 8));
  const oldRequests = inputs.map((i) => pool.run('swap', i));
  stagedV2.activate();
  const newRequests = inputs.map((i) => pool.run('swap', i));
  assert.equal(pool.stats().queuedRequests, 4);
  const [oldResults, newResults] = await Promise.all([Promise.all(oldRequests), Promise.all(newRequests), blocker]);
  assert.equal(pool.stats().batches - before.batches, 3, 'slow; the two v1 requests merged; the two v2 requests merged');
  const soloV2 = await Promise.all(inputs.map((i) => pool.run('swap', i)));
  for (const i of [0, 1]) {
    assert.deepEqual(oldResults[i]!.data, soloV1[i]!.data, `request ${i} queued before the switch is answered by v1`);
    assert.deepEqual(newResults[i]!.data, soloV2[i]!.data, `request ${i} queued after the switch is answered by v2`);
    assert.notDeepEqual(soloV1[i]!.data, soloV2[i]!.data, 'the two versions have different weights');
  }
  // v1 had no request left, so every worker released it.
  assert.deepEqual(pool.modelVersions().filter((v) => v.name === 'swap').map((v) => [v.state, v.workers]), [['current', 1]]);
  assert.ok(logs.some((e) => e.event === 'model-version-released' && e.model === 'swap'));
  assert.equal(pool.removeModel('swap'), true);
});

test('removeModel: requests already queued finish, new ones are UNKNOWN_MODEL, and the sessions are released', async () => {
  (await pool.stageModel(poolModel('brief', { weightSeed: 23 }))).activate();
  const blocker = pool.run('slow', input(8, 64, 9));
  const queued = pool.run('brief', input(8, 3, 1));
  assert.equal(pool.removeModel('brief'), true);
  await assert.rejects(pool.run('brief', input(8, 1, 1)), (e: unknown) => e instanceof GanforgeError && e.code === 'UNKNOWN_MODEL');
  assert.deepEqual(pool.modelVersions().filter((v) => v.name === 'brief').map((v) => v.state), ['retiring'], 'kept while a request needs it');
  assert.deepEqual((await queued).dims, [3, 6, 5, 1]);
  await blocker;
  assert.deepEqual(pool.modelVersions().filter((v) => v.name === 'brief'), []);
  assert.equal(pool.removeModel('brief'), false);
});

test('a version the workers cannot load is refused by stageModel and the current one keeps serving', async () => {
  const good = await pool.run('small', input(8, 1, 40));
  const broken = { ...small, bytes: Uint8Array.from([1, 2, 3, 4]) };
  await assert.rejects(pool.stageModel(broken), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_MODEL' && /could not load 'small'/.test(e.message));
  assert.deepEqual(pool.modelVersions().filter((v) => v.name === 'small').map((v) => v.state), ['current']);
  assert.deepEqual((await pool.run('small', input(8, 1, 40))).data, good.data);
});

test('a worker restarted after a crash starts with the models of now, not those of the pool start', async () => {
  (await pool.stageModel(poolModel('added', { weightSeed: 24 }))).activate();
  const ready = logs.length;
  await pool.killWorker(0);
  while (pool.stats().ready === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const restarted = logs.slice(ready).find((e) => e.event === 'worker-ready')!;
  assert.ok(Object.keys(restarted.warmupMs as object).includes('added'), JSON.stringify(restarted.warmupMs));
  assert.deepEqual((await pool.run('added', input(8, 2, 1))).dims, [2, 6, 5, 1]);
  pool.removeModel('added');
});
