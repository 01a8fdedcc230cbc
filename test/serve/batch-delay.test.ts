// The batching delay (Triton's max_queue_delay): an idle worker waits for a fuller batch only while another worker is
// busy, never for a lone request, and stops waiting once preferredBatchImages are queued.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleLatents } from '../../common/latents.ts';
import { InferencePool, type GeneratorInput, type PoolObserver } from '../../serve/inference-pool.ts';
import { MODEL_SPECS, poolModel } from './serve-fixtures.ts';

const small = poolModel('small', {});
const slow = poolModel('slow', MODEL_SPECS.slow);
const input = (count: number, seed: number): GeneratorInput => ({ latent: sampleLatents({ latentDim: 8, count, seed }), labels: null, count });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startPool(batchDelayMs: number, preferredBatchImages?: number) {
  const batches: { model: string; images: number; requests: number }[] = [];
  const observer: PoolObserver = { batchDispatched: (model, images, requests) => batches.push({ model, images, requests }), queueWaited: () => {} };
  const pool = await InferencePool.start({ models: [small, slow], device: 'cpu', workers: 2, batchDelayMs, preferredBatchImages, observer });
  return { pool, batches };
}

test('a lone request on an idle pool is not delayed, however long the delay', async () => {
  const { pool } = await startPool(1_000);
  try {
    const started = performance.now();
    await pool.run('small', input(1, 1));
    assert.ok(performance.now() - started < 900, 'answered without waiting out the 1 s delay');
  } finally {
    await pool.close();
  }
});

test('while a worker is busy, requests arriving over the delay window go out as one batch; with no delay, one by one', async () => {
  for (const delay of [0, 1_000]) {
    const { pool, batches } = await startPool(delay);
    try {
      const busy = pool.run('slow', input(64, 2)); // keeps one worker busy for the whole window (~100+ ms per batch)
      const smalls: Promise<unknown>[] = [];
      for (let i = 0; i < 3; i++) {
        smalls.push(pool.run('small', input(1, 10 + i)));
        await sleep(15);
      }
      await Promise.all([busy, ...smalls]);
      const smallBatches = batches.filter((b) => b.model === 'small');
      if (delay === 0) assert.ok(smallBatches.length >= 2, `no delay: ${JSON.stringify(smallBatches)}`);
      else assert.deepEqual(smallBatches, [{ model: 'small', images: 3, requests: 3 }]);
    } finally {
      await pool.close();
    }
  }
});

test('the wait ends as soon as preferredBatchImages are queued', async () => {
  const { pool, batches } = await startPool(1_000, 4);
  try {
    const busy = pool.run('slow', input(64, 4));
    const started = performance.now();
    await Promise.all([pool.run('small', input(2, 5)), pool.run('small', input(2, 6))]);
    assert.ok(performance.now() - started < 900, 'did not wait out the 1 s delay');
    assert.deepEqual(batches.filter((b) => b.model === 'small'), [{ model: 'small', images: 4, requests: 2 }]);
    await busy;
  } finally {
    await pool.close();
  }
});

test('bad delay options are refused with the allowed range', async () => {
  await assert.rejects(InferencePool.start({ models: [small], device: 'cpu', workers: 1, batchDelayMs: -1 }), /'batchDelayMs' must be a number of milliseconds in \[0, 1000\], got -1/);
  await assert.rejects(InferencePool.start({ models: [small], device: 'cpu', workers: 1, preferredBatchImages: 0 }), /'preferredBatchImages' must be an integer ≥ 1, got 0/);
});

test('a worker holds a second batch of a fast model while it runs one; if it dies, that unstarted batch runs on its replacement instead of failing', async () => {
  const pool = await InferencePool.start({ models: [small, slow], device: 'cpu', workers: 1, batchDelayMs: 0 });
  try {
    await pool.run('small', input(1, 6)); // measured: small's batches are short, so a busy worker takes the next one
    const running = pool.run('slow', input(64, 7));
    const next = pool.run('small', input(1, 8));
    assert.equal(pool.stats().queuedRequests, 0, 'the second batch was handed to the busy worker at once');
    await pool.killWorker(0);
    await assert.rejects(running, /stopped while running this request/);
    assert.deepEqual((await next).dims, [1, 6, 5, 1]);
    assert.equal(pool.stats().restarts, 1);
  } finally {
    await pool.close();
  }
});

test('no waiting for a model whose batches take longer than the delay: the idle worker starts at once', async () => {
  const waits: { model: string; seconds: number }[] = [];
  const observer: PoolObserver = { batchDispatched: () => {}, queueWaited: (model, seconds) => waits.push({ model, seconds }) };
  const pool = await InferencePool.start({ models: [small, slow], device: 'cpu', workers: 2, batchDelayMs: 1_000, observer });
  try {
    await pool.run('slow', input(64, 9)); // measured: a batch takes ~100 ms, less than the 1 s delay
    const busy = pool.run('slow', input(64, 10));
    waits.length = 0;
    await pool.run('slow', input(1, 11)); // so this one waits for company while the other worker is busy
    const waitedWithLongDelay = waits.find((w) => w.model === 'slow')!.seconds;
    await busy;
    assert.ok(waitedWithLongDelay > 0.01, `a batch shorter than the delay waits for company (${waitedWithLongDelay} s)`);
  } finally {
    await pool.close();
  }
  const quick = await InferencePool.start({ models: [small, slow], device: 'cpu', workers: 2, batchDelayMs: 5, observer });
  try {
    await quick.run('slow', input(64, 9)); // measured: a batch takes ~100 ms, more than the 5 ms delay
    const busy = quick.run('slow', input(64, 10));
    waits.length = 0;
    await quick.run('slow', input(1, 11));
    await busy;
    const waited = waits.find((w) => w.model === 'slow')!.seconds;
    assert.ok(waited < 0.005, `dispatched without waiting out the delay (${waited} s)`);
  } finally {
    await quick.close();
  }
});

test('the next batch of a slow model is formed when the worker is free, from everything queued meanwhile', async () => {
  const pool = await InferencePool.start({ models: [slow], device: 'cpu', workers: 1, batchDelayMs: 0 });
  let batches: number;
  try {
    await pool.run('slow', input(64, 1)); // measured: far above the pipelining bound
    const running = pool.run('slow', input(64, 2));
    const followers = Array.from({ length: 6 }, (_, i) => pool.run('slow', input(1, 3 + i)));
    assert.equal(pool.stats().queuedRequests, 6, 'not handed to the busy worker');
    await Promise.all([running, ...followers]);
    batches = pool.stats().batches;
  } finally {
    await pool.close();
  }
  assert.equal(batches, 3, 'the first run, the running batch, and one batch of all six followers');
});

test('an inference-bound model: a free worker takes its fair share of the queue, leaving the rest for the other worker', async () => {
  const { pool, batches } = await startPool(0);
  try {
    await pool.run('slow', input(64, 20)); // its batches now measure far above FAIR_SHARE_FROM_BATCH_MS
    batches.length = 0;
    // Two go out at once (one per idle worker); six queue behind them. Greedy batching would hand all six to whichever
    // worker is free first and leave the other idle; a fair share is at most ceil(6 / 2) = 3.
    const outputs = await Promise.all(Array.from({ length: 8 }, (_v, i) => pool.run('slow', input(1, 30 + i))));
    assert.equal(outputs.length, 8);
    for (const output of outputs) assert.equal(output.dims[0], 1);
    const sizes = batches.map((b) => b.images);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 8, JSON.stringify(sizes));
    assert.deepEqual(sizes.slice(0, 2), [1, 1], JSON.stringify(sizes));
    assert.ok(Math.max(...sizes) <= 3, `a batch took more than its share: ${JSON.stringify(sizes)}`);
    // The fast model keeps taking everything queued: its cost is per run, not per image. Each busy worker is handed one
    // small request to hold (pipelining); the four queued after that go out together, not as 2 + 2.
    await pool.run('small', input(1, 40));
    batches.length = 0;
    const busy = [pool.run('slow', input(64, 41)), pool.run('slow', input(64, 42))]; // both workers busy
    const smalls = Array.from({ length: 6 }, (_v, i) => pool.run('small', input(1, 50 + i)));
    await Promise.all([...busy, ...smalls]);
    const smallSizes = batches.filter((b) => b.model === 'small').map((b) => b.images);
    assert.equal(smallSizes.reduce((a, b) => a + b, 0), 6, JSON.stringify(smallSizes));
    assert.ok(Math.max(...smallSizes) >= 4, `small batches: ${JSON.stringify(smallSizes)}`);
  } finally {
    await pool.close();
  }
});

test('short batches are packed onto the first worker (it holds a second one) instead of waking an idle one; long ones are spread', async () => {
  const pool = await InferencePool.start({ models: [small, slow], device: 'cpu', workers: 2, batchDelayMs: 0 });
  try {
    await pool.run('small', input(1, 60)); // measured: small's batches are short
    await pool.run('slow', input(64, 61)); // and slow's long
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
