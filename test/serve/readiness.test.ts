// /readyz against a real pool: workers warm every model up before they count as ready, a killed worker takes the
// server out of rotation until its replacement has warmed up, and an empty models folder or a closing pool is not ready.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createApp } from '../../serve/app.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import type { LogEntry } from '../../serve/logger.ts';
import { loadModelRepository } from '../../serve/model-repository.ts';
import { DIGIT_CLASSES, getJson, makeModelsDir } from './serve-fixtures.ts';

interface Readiness {
  status: string;
  reasons: string[];
  models: string[];
  workers?: { total: number; ready: number };
}

async function listen(app: ReturnType<typeof createApp>): Promise<{ base: string; server: Server }> {
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('ready after every model was warmed up; a killed worker makes it 503 until the replacement is warm; closing → 503', async () => {
  const models = makeModelsDir({ default: {}, digits: { classes: DIGIT_CLASSES, weightSeed: 2 } });
  const logs: LogEntry[] = [];
  const repository = await loadModelRepository({ dir: models.dir, device: 'cpu' });
  const pool = await InferencePool.start({ models: [...repository.models.values()], device: 'cpu', workers: 1, logger: (e) => logs.push(e) });
  const { base, server } = await listen(createApp({ repository, pool }));
  try {
    // The warm-up ran one real batch per model inside the worker before it reported ready.
    const warmed = logs.find((e) => e.event === 'worker-ready')!;
    assert.deepEqual(Object.keys(warmed.warmupMs as object).sort(), ['default', 'digits']);
    // A duration this machine measured: any finite non-negative number (how long is not this test's business).
    assert.ok(Object.values(warmed.warmupMs as Record<string, number>).every((ms) => Number.isFinite(ms) && ms >= 0));
    const ready = await getJson<Readiness>(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.headers.get('cache-control'), 'no-store');
    assert.deepEqual(ready.body, { status: 'ready', reasons: [], models: ['default', 'digits'], workers: { total: 1, ready: 1 } });

    await pool.killWorker(0);
    const down = await getJson<Readiness>(`${base}/readyz`);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'not-ready');
    assert.match(down.body.reasons.join(';'), /none of the 1 inference workers is warmed up/);
    // /healthz stays 200: the process is alive, it just cannot serve yet.
    assert.equal((await getJson(`${base}/healthz`)).status, 200);
    const deadline = Date.now() + 20_000;
    let status = 503;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await getJson(`${base}/readyz`)).status;
    }
    assert.equal(status, 200, 'the replacement worker never became ready');
    assert.equal(logs.filter((e) => e.event === 'worker-ready').length, 2);

    const closing = pool.close();
    const closed = await getJson<Readiness>(`${base}/readyz`);
    assert.equal(closed.status, 503);
    assert.match(closed.body.reasons.join(';'), /shutting down/);
    await closing;
  } finally {
    server.close();
    await pool.close();
    models.cleanup();
  }
});

test('an empty models folder is alive but not ready', async () => {
  const models = makeModelsDir({});
  const repository = await loadModelRepository({ dir: models.dir, device: 'cpu' });
  const pool = await InferencePool.start({ models: [], device: 'cpu', workers: 1 });
  const { base, server } = await listen(createApp({ repository, pool }));
  try {
    const { status, body } = await getJson<Readiness>(`${base}/readyz`);
    assert.equal(status, 503);
    assert.deepEqual(body.reasons, ['no models are loaded']);
    assert.equal((await getJson(`${base}/healthz`)).status, 200);
  } finally {
    server.close();
    await pool.close();
    models.cleanup();
  }
});
