// An inference worker thread dies under load: 16 clients on a real server on loopback (2 workers), and worker 0 is
// killed at its next JS turn, or throws an uncaught exception out of run() in the middle of a batch. Only the batch it
// was running fails, each of its requests with a 503 WORKER_CRASHED JSON body and Retry-After (as many as the server's
// 'worker-restarted' line counts); every other request is answered with exactly its reference bytes; the worker is
// replaced, and /metrics and /healthz count the restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LogEntry } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { startClients, statusCounts, waitFor } from './load-clients.ts';
import { getBytes, getJson, makeModelsDir } from './serve-fixtures.ts';

// A few ms per batch: the queue stays full under 16 clients and requests merge, while the test stays short.
const BUSY = { slowLayers: 4, slowWidth: 256, weightSeed: 12 };
const SEEDS = 4;

let models: ReturnType<typeof makeModelsDir>;
let server: RunningServer;
const logs: LogEntry[] = [];
const reference = new Map<string, Uint8Array>();
const urlOf = (model: string, seed: number) => `${server.url}/generate?model=${model}&seed=${seed}&n=4&format=npy`;

before(async () => {
  models = makeModelsDir({ busy: BUSY, other: { weightSeed: 13 } });
  server = await startServer({ modelsDir: models.dir, port: 0, device: 'cpu', workers: 2, logger: (e) => logs.push(e), web: false, watch: false });
  // Asked one at a time before any fault: what every answer under load must equal.
  for (const model of ['busy', 'other']) {
    for (let seed = 0; seed < SEEDS; seed++) {
      const answer = await getBytes(urlOf(model, seed));
      assert.equal(answer.status, 200);
      reference.set(urlOf(model, seed), answer.bytes);
    }
  }
});

after(async () => {
  await server.close();
  models.cleanup();
});

async function restartsMetric(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = /^ganforge_worker_restarts_total (\d+)$/m.exec(text);
  assert.ok(line, `no ganforge_worker_restarts_total in /metrics:\n${text}`);
  return Number(line[1]);
}

for (const how of ['exit', 'throw-in-run'] as const) {
  test(`worker 0 dies under load (${how}): its batch gets 503 WORKER_CRASHED, everything else the right bytes, the restart is counted`, async () => {
    const metricBefore = await restartsMetric();
    const healthBefore = (await getJson<{ workers: { restarts: number } }>(`${server.url}/healthz`)).body.workers.restarts;
    const logFrom = logs.length;
    // A quarter of the clients ask for the other model, so both models are in flight when the worker dies.
    const clients = startClients(16, (client, seq) => urlOf(client % 4 === 3 ? 'other' : 'busy', (client + seq) % SEEDS));
    let answers;
    try {
      await waitFor('steady load', () => (clients.answers.length >= 32 ? true : undefined));
      await server.pool.killWorker(0, how);
      await waitFor('worker 0 to be replaced and warm', () => (logs.slice(logFrom).some((e) => e.event === 'worker-ready' && e.worker === 0) && server.pool.stats().ready === 2 ? true : undefined));
      const seen = clients.answers.length;
      await waitFor('answers from the replacement', () => (clients.answers.length >= seen + 32 ? true : undefined));
    } finally {
      answers = await clients.stop();
    }

    const restarted = logs.slice(logFrom).filter((e) => e.event === 'worker-restarted');
    assert.equal(restarted.length, 1, JSON.stringify(restarted));
    assert.equal(restarted[0]!.worker, 0);
    const failedRequests = restarted[0]!.failedRequests as number;
    if (how === 'throw-in-run') {
      // It threw while running a batch, so that batch (at least one request) was lost.
      assert.ok(failedRequests >= 1, `failedRequests ${failedRequests}`);
      assert.ok(logs.slice(logFrom).some((e) => e.event === 'worker-error' && e.worker === 0 && /injected fault: worker threw out of run\(\)/.test(String(e.reason))), 'the exception is in the log');
    }
    const failed = answers.filter((a) => a.status !== 200);
    assert.equal(failed.length, failedRequests, `statuses ${JSON.stringify(statusCounts(answers))}, server counted ${failedRequests}`);
    for (const answer of failed) {
      assert.equal(answer.status, 503, answer.error);
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
      const body = JSON.parse(new TextDecoder().decode(answer.bytes)) as { error: string; message: string };
      assert.equal(body.error, 'WORKER_CRASHED');
      assert.match(body.message, /^inference worker 0 stopped \(exit code (70|1)\) while running this request; it is being replaced, retry$/);
    }
    for (const answer of answers.filter((a) => a.status === 200)) {
      assert.deepEqual(answer.bytes, reference.get(answer.url), `${answer.url}: bytes differ from the reference`);
    }
    assert.ok(answers.filter((a) => a.status === 200 && a.url.includes('model=other')).length > 0, 'the other model was served meanwhile');
    assert.equal(await restartsMetric(), metricBefore + 1, '/metrics counts the restart');
    assert.equal((await getJson<{ workers: { restarts: number } }>(`${server.url}/healthz`)).body.workers.restarts, healthBefore + 1);
    console.log(JSON.stringify({ how, answers: answers.length, statuses: statusCounts(answers), failedRequests }));
  });
}

test('a stalled worker: its requests time out with 504 TIMEOUT while the other worker keeps serving; released, it serves again', async () => {
  const tight = await startServer({ modelsDir: models.dir, port: 0, device: 'cpu', workers: 2, logger: () => {}, web: false, watch: false, pool: { timeoutMs: 300 } });
  const release = tight.pool.stallWorker(1);
  try {
    const url = (seed: number) => `${tight.url}/generate?model=other&seed=${seed % SEEDS}&n=4&format=npy`;
    const clients = startClients(16, (client, seq) => url(client + seq));
    let answers;
    try {
      await waitFor('timeouts and answers', () => (clients.answers.some((a) => a.status === 504) && clients.answers.filter((a) => a.status === 200).length >= 32 ? true : undefined));
    } finally {
      answers = await clients.stop();
    }
    for (const answer of answers.filter((a) => a.status !== 200)) {
      assert.equal(answer.status, 504, answer.error);
      assert.equal((JSON.parse(new TextDecoder().decode(answer.bytes)) as { error: string }).error, 'TIMEOUT');
    }
    for (const answer of answers.filter((a) => a.status === 200)) assert.deepEqual(answer.bytes, reference.get(answer.url.replace(tight.url, server.url)));
  } finally {
    release();
    await tight.close();
  }
});
