// The pool applies serve/batching-policy.ts's plan to real workers (the rules themselves are pinned in
// test/serve/batching-policy.test.ts). Nothing here depends on how fast this machine runs: the pool's clock is a
// variable the test sets, so each model's measured batch time is exactly what the test says, and every assertion
// reads the pool's state synchronously after the requests were queued, before any worker can answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleLatents } from '../../common/latents.ts';
import type { GeneratorInput } from '../../runtime/generator-runner.ts';
import { InferencePool, type InferencePoolOptions, type PoolObserver } from '../../serve/inference-pool.ts';
import { MODEL_SPECS, poolModel } from './serve-fixtures.ts';

const small = poolModel('small', {});
const slow = poolModel('slow', MODEL_SPECS.slow);
const input = (count: number, seed: number): GeneratorInput => ({ latent: sampleLatents({ latentDim: 8, count, seed }), labels: null, count });

/** A pool on a manual clock, recording its batches. `measure` runs one request whose batch is measured as taking `ms`. */
async function startPool(options: Partial<InferencePoolOptions>) {
  const batches: { model: string; images: number; requests: number }[] = [];
  const observer: PoolObserver = { batchDispatched: (model, images, requests) => batches.push({ model, images, requests }), queueWaited: () => {} };
  let now = 0;
  const pool = await InferencePool.start({ models: [small, slow], device: 'cpu', workers: 2, observer, clock: () => now, ...options });
  const measure = async (model: string, ms: number) => {
    const done = pool.run(model, input(1, 99)); // sent at `now` (an idle worker takes it at once) …
    now += ms; // … and answered `ms` later, whenever the thread really answers
    await done;
    batches.length = 0;
  };
  return { pool, batches, measure };
}

test('a lone request on an idle pool is not delayed, however long the delay', async () => {
  const { pool, measure } = await startPool({ batchDelayMs: 1_000 });
  try {
    await measure('small', 1);
    const answered = pool.run('small', input(1, 1));
    assert.equal(pool.stats().queuedRequests, 0, 'sent to a worker as it was queued');
    await answered;
  } finally {
    await pool.close();
  }
});

test('while a worker is busy, short requests wait and go out as one batch; with no delay, one by one', async () => {
  for (const delay of [0, 1_000]) {
    const { pool, batches, measure } = await startPool({ batchDelayMs: delay });
    try {
      await measure('small', 1);
      const busy = pool.run('slow', input(64, 2));
      const smalls = [0, 1, 2].map((i) => pool.run('small', input(1, 10 + i)));
      // The clock stands still, so the 1 s window never ends by itself: the three leave when the busy worker is free.
      assert.equal(pool.stats().queuedRequests, delay === 0 ? 0 : 3);
      await Promise.all([busy, ...smalls]);
      const smallBatches = batches.filter((b) => b.model === 'small');
      if (delay === 0) assert.deepEqual(smallBatches.map((b) => b.images), [1, 1, 1]);
      else assert.deepEqual(smallBatches, [{ model: 'small', images: 3, requests: 3 }]);
    } finally {
      await pool.close();
    }
  }
});

test('the wait ends as soon as preferredBatchImages are queued', async () => {
  const { pool, batches, measure } = await startPool({ batchDelayMs: 1_000, preferredBatchImages: 4 });
  try {
    await measure('small', 1);
    const busy = pool.run('slow', input(64, 4));
    const first = pool.run('small', input(2, 5));
    assert.equal(pool.stats().queuedRequests, 1, 'two images wait for company');
    const second = pool.run('small', input(2, 6));
    assert.equal(pool.stats().queuedRequests, 0, 'four images go out at once');
    assert.deepEqual(batches.filter((b) => b.model === 'small'), [{ model: 'small', images: 4, requests: 2 }]);
    await Promise.all([busy, first, second]);
  } finally {
    await pool.close();
  }
});

test('bad delay options are refused with the allowed range', async () => {
  await assert.rejects(InferencePool.start({ models: [small], device: 'cpu', workers: 1, batchDelayMs: -1 }), /'batchDelayMs' must be a number of milliseconds in \[0, 1000\], got -1/);
  await assert.rejects(InferencePool.start({ models: [small], device: 'cpu', workers: 1, preferredBatchImages: 0 }), /'preferredBatchImages' must be an integer ≥ 1, got 0/);
});

test('a worker holds a second batch of a fast model while it runs one; if it dies, that unstarted batch runs on its replacement instead of failing', async () => {
  const { pool, measure } = await startPool({ workers: 1, batchDelayMs: 0 });
  try {
    await measure('small', 1); // short: a busy worker takes its next batch
    const running = pool.run('slow', input(64, 7));
    const next = pool.run('small', input(1, 8));
    assert.equal(pool.stats().queuedRequests, 0, 'the second batch was handed to the busy worker at once');
    await pool.killWorker(0);
    await assert.rejects(running, /stopped \(exit code 70\) while running this request/);
    assert.deepEqual((await next).dims, [1, 6, 5, 1]);
    assert.equal(pool.stats().restarts, 1);
  } finally {
    await pool.close();
  }
});

test('no waiting for a model whose batches take longer than the delay: the idle worker starts at once', async () => {
  for (const [delay, waits] of [[1_000, true], [5, false]] as const) {
    const { pool, measure } = await startPool({ batchDelayMs: delay });
    try {
      await measure('slow', 100); // a 100 ms batch: shorter than a 1 s delay, longer than 5 ms
      const busy = pool.run('slow', input(64, 10));
      const lone = pool.run('slow', input(1, 11));
      assert.equal(pool.stats().queuedRequests, waits ? 1 : 0, `delay ${delay} ms`);
      await Promise.all([busy, lone]);
    } finally {
      await pool.close();
    }
  }
});

test('the next batch of a slow model is formed when the worker is free, from everything queued meanwhile', async () => {
  const { pool, batches, measure } = await startPool({ workers: 1, batchDelayMs: 0 });
  try {
    await measure('slow', 100); // far above the pipelining bound
    const running = pool.run('slow', input(64, 2));
    const followers = Array.from({ length: 6 }, (_, i) => pool.run('slow', input(1, 3 + i)));
    assert.equal(pool.stats().queuedRequests, 6, 'not handed to the busy worker');
    await Promise.all([running, ...followers]);
    assert.deepEqual(batches.map((b) => b.images), [64, 6], 'the running batch, then one batch of all six followers');
  } finally {
    await pool.close();
  }
});

test('an inference-bound model: a free worker takes its fair share of the queue, leaving the rest for the other worker', async () => {
  const { pool, batches, measure } = await startPool({ batchDelayMs: 0 });
  try {
    await measure('slow', 100);
    // Two go out at once (one per idle worker); six queue behind them. Greedy batching would hand all six to whichever
    // worker is free first and leave the other idle; the fair share is ceil(6 / 2) = 3, then ceil(3 / 2) = 2, then 1.
    const outputs = await Promise.all(Array.from({ length: 8 }, (_v, i) => pool.run('slow', input(1, 30 + i))));
    for (const output of outputs) assert.equal(output.dims[0], 1);
    assert.deepEqual(batches.map((b) => b.images), [1, 1, 3, 2, 1]);
  } finally {
    await pool.close();
  }
});

test('short batches are packed onto the first worker (it holds a second one) instead of waking an idle one; long ones are spread', async () => {
  const { pool, measure } = await startPool({ batchDelayMs: 0 });
  try {
    await measure('small', 1); // short
    await measure('slow', 100); // long
    const smalls = [pool.run('small', input(1, 62)), pool.run('small', input(1, 63))];
    assert.equal(pool.stats().busy, 1, 'both short batches went to one worker');
    assert.equal(pool.stats().queuedRequests, 0);
    await Promise.all(smalls);
    const slows = [pool.run('slow', input(8, 64)), pool.run('slow', input(8, 65))];
    assert.equal(pool.stats().busy, 2, 'the long batches run side by side');
    await Promise.all(slows);
  } finally {
    await pool.close();
  }
});
