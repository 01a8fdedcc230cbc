// A client that hangs up while its request waits in the queue takes the request out of the queue: no worker time is
// spent on an answer nobody reads, and the access log marks it aborted.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import type { LogEntry } from '../../serve/logger.ts';
import { MODEL_SPECS, startTestServer, type TestServer } from './serve-fixtures.ts';

let server: TestServer;
const logs: LogEntry[] = [];

before(async () => {
  server = await startTestServer({ slow: MODEL_SPECS.slow }, { logger: (e) => logs.push(e) });
});
after(() => server.close());

test('hung-up requests leave the queue before a worker runs them', async () => {
  // The only worker is stalled (serve/inference-pool.ts stallWorker): the first request waits inside it, and as the
  // model has no measured batch time yet, nothing more is handed to a busy worker (serve/batching-policy.ts), so the
  // five after it stay queued however fast or slow this machine runs.
  const release = server.pool.stallWorker(0);
  try {
    const busy = fetch(`${server.base}/generate?model=slow&n=64&seed=1&format=npy`);
    await waitFor(() => server.pool.stats().busy === 1);
    const batchesBefore = server.pool.stats().batches;
    const gone = Array.from({ length: 5 }, (_, i) => {
      const req = request(`${server.base}/generate?model=slow&n=64&seed=${100 + i}`);
      req.on('error', () => {}); // the hang-up is ours
      req.end();
      return req;
    });
    await waitFor(() => server.pool.stats().queuedRequests === 5);
    for (const req of gone) req.destroy();
    await waitFor(() => server.pool.stats().queuedRequests === 0);
    release();
    assert.equal((await busy).status, 200);
    await waitFor(() => server.pool.stats().busy === 0);
    assert.equal(server.pool.stats().batches - batchesBefore, 0, 'no batch ran for the withdrawn requests');
    await waitFor(() => logs.filter((e) => e.event === 'request' && e.aborted === true).length === 5);
  } finally {
    release();
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
