// The whole server over a real loopback port (startServer, port 0) and through the CLI: determinism across separately
// started servers, CUDA→CPU fallback reported in /healthz, an event loop kept free by the workers, recovery from a
// killed worker, and graceful close.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { GanforgeError } from '../../common/errors.ts';
import { probeCudaProvider } from '../../runtime/cuda-probe.ts';
import type { LogEntry } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { getBytes, getJson, makeModelsDir, MODEL_SPECS, type ErrorBody } from './serve-fixtures.ts';

let dir: string;
let cleanup: () => void;
let server: RunningServer;
const logs: LogEntry[] = [];

interface Health {
  status: string;
  models: string[];
  providers: Record<string, string>;
  fallbackReasons: Record<string, string>;
  workers: { restarts: number; ready: number };
}

before(async () => {
  ({ dir, cleanup } = makeModelsDir(MODEL_SPECS));
  server = await startServer({ modelsDir: dir, port: 0, device: 'auto', workers: 1, logger: (e) => logs.push(e), web: false });
});

after(async () => {
  await server.close();
  cleanup();
});

const noCuda = !probeCudaProvider().available;

test('listens on loopback; without CUDA, one line says the CPU is used and why, and each model names its provider', { skip: !noCuda && 'this machine has CUDA' }, () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const choices = logs.filter((e) => e.event === 'execution-provider');
  assert.equal(choices.length, 1);
  assert.equal(choices[0]!.provider, 'cpu');
  assert.equal(choices[0]!.level, 'info');
  assert.match(String(choices[0]!.reason), /^CPU: onnxruntime-node's CUDA provider is not installed \(no libonnxruntime_providers_shared\.so/);
  assert.ok(!logs.some((e) => e.event === 'provider-fallback' || e.level === 'error' || e.level === 'warn'), 'no other provider line, no warning');
  const listening = logs.find((e) => e.event === 'listening')!;
  const models = listening.models as { name: string; provider: string; fallbackReason?: string }[];
  assert.deepEqual(models.map((m) => [m.name, m.provider]), [['default', 'cpu'], ['digits', 'cpu'], ['slow', 'cpu']]);
  assert.ok(models.every((m) => m.fallbackReason === choices[0]!.reason));
});

test('--device cuda where CUDA cannot run: startServer fails with INVALID_PARAMETER naming the reason', { skip: !noCuda && 'this machine has CUDA' }, async () => {
  await assert.rejects(startServer({ modelsDir: dir, port: 0, device: 'cuda', workers: 1, logger: () => {}, web: false }), (error: unknown) =>
    error instanceof GanforgeError && error.code === 'INVALID_PARAMETER' && error.parameter === 'device' &&
    /'device' is 'cuda' but CUDA cannot run here: onnxruntime-node's CUDA provider is not installed/.test(error.message));
});

test('without CUDA: /healthz shows CPU providers and the reason', { skip: !noCuda && 'this machine has CUDA' }, async () => {
  const { status, body } = await getJson<Health>(`${server.url}/healthz`);
  assert.equal(status, 200);
  assert.deepEqual(body.providers, { default: 'cpu', digits: 'cpu', slow: 'cpu' });
  assert.deepEqual(Object.keys(body.fallbackReasons), ['default', 'digits', 'slow']);
  assert.match(body.fallbackReasons.default!, /CUDA/);
});

test('same seed gives identical bytes from two separately started servers', async () => {
  const other = await startServer({ modelsDir: dir, port: 0, device: 'cpu', workers: 2, logger: () => {}, web: false });
  try {
    for (const query of ['seed=42&n=6', 'seed=42&n=3&format=npy', 'model=digits&seed=7&n=4&class=one']) {
      const a = await getBytes(`${server.url}/generate?${query}`);
      const b = await getBytes(`${other.url}/generate?${query}`);
      assert.equal(a.status, 200, query);
      assert.deepEqual(a.bytes, b.bytes, query);
    }
  } finally {
    await other.close();
  }
});

test('/healthz answers while the worker is blocked inside a batch (the event loop stays free)', async () => {
  // The only worker's thread is blocked (stallWorker: as a long native run() blocks it) with eight n=64 requests sent
  // to it or queued behind it. Health checks must still be answered, and all of them before any generation is: that
  // holds however fast this machine runs, since nothing is answered until the worker is released.
  let pending = 8;
  const release = server.pool.stallWorker(0);
  const generations = Array.from({ length: pending }, (_v, i) => getBytes(`${server.url}/generate?model=slow&n=64&seed=${20 + i}`).then((r) => { pending -= 1; return r; }));
  try {
    while (server.pool.stats().busy === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal(pending, 8, 'no generation was answered while the worker was blocked');
  } finally {
    release();
  }
  for (const generation of await Promise.all(generations)) assert.equal(generation.status, 200);
});

test('a killed worker: its request fails with a clean 503 WORKER_CRASHED, the worker is restarted, the server keeps serving', async () => {
  const restarts = (await getJson<Health>(`${server.url}/healthz`)).body.workers.restarts;
  const doomed = getJson<ErrorBody>(`${server.url}/generate?model=slow&n=64&seed=2`);
  while (server.pool.stats().busy === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  await server.pool.killWorker(0);
  const failed = await doomed;
  assert.equal(failed.status, 503);
  assert.equal(failed.headers.get('retry-after'), '1');
  assert.deepEqual(failed.body, { error: 'WORKER_CRASHED', message: 'inference worker 0 stopped (exit code 70) while running this request; it is being replaced, retry' });
  assert.ok(logs.some((e) => e.event === 'worker-restarted' && e.worker === 0 && e.failedRequests === 1), 'the restart is in the log');
  const next = await getBytes(`${server.url}/generate?seed=1`);
  assert.equal(next.status, 200);
  const health = (await getJson<Health>(`${server.url}/healthz`)).body;
  assert.equal(health.workers.restarts, restarts + 1);
  assert.equal(health.workers.ready, 1);
});

test('close() lets an in-flight request finish, then refuses connections', async () => {
  const closing = await startServer({ modelsDir: dir, port: 0, device: 'cpu', workers: 1, logger: () => {}, web: false });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ready = await requestOn(agent, `${closing.url}/readyz`); // opens the kept-alive connection used below
  assert.equal(ready.status, 200);
  const inFlight = getBytes(`${closing.url}/generate?model=slow&n=32&seed=3`);
  while (closing.pool.stats().busy === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  const closed = closing.close();
  // While the last request drains, a balancer asking on an open connection learns not to send more.
  const draining = await requestOn(agent, `${closing.url}/readyz`);
  assert.equal(draining.status, 503);
  assert.match(draining.body, /the server is shutting down/);
  await closed;
  agent.destroy();
  assert.equal((await inFlight).status, 200);
  await assert.rejects(fetch(`${closing.url}/healthz`));
});

test('the browser client is served at / in front of the API; web: false leaves / to the API 404', async () => {
  const small = makeModelsDir({ default: {} });
  const dist = join(small.dir, 'client');
  mkdirSync(dist);
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>ganforge</title>');
  writeFileSync(join(dist, 'ganforge.js'), 'export {};');
  const withWeb = await startServer({ modelsDir: small.dir, port: 0, device: 'cpu', workers: 1, logger: () => {}, web: dist });
  try {
    const page = await fetch(`${withWeb.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ganforge<\/title>/);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    const image = await getBytes(`${withWeb.url}/generate?seed=1`);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('cross-origin-resource-policy'), null, 'API responses stay embeddable from other origins');
    assert.equal((await fetch(`${withWeb.url}/web/ganforge.js`)).status, 200);
    const missing = await getJson<ErrorBody>(`${withWeb.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'NOT_FOUND');
  } finally {
    await withWeb.close();
    small.cleanup();
  }
  const apiOnly = await getJson<ErrorBody>(`${server.url}/`);
  assert.equal(apiOnly.status, 404);
  assert.equal(apiOnly.body.error, 'NOT_FOUND');
});

test('ganforge serve (the CLI) starts on the default device with nothing on stderr, serves and exits 0 on SIGTERM', async () => {
  // As `npm start` runs it (default --device auto), on a folder like the bundled one.
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--models', dir, '--port', '0', '--workers', '1', '--max-images', '2', '--api-only'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const startup: LogEntry[] = [];
  try {
    const lines = createInterface({ input: child.stdout });
    let url = '';
    for await (const line of lines) {
      const entry = JSON.parse(line) as LogEntry;
      startup.push(entry);
      if (entry.event === 'listening') {
        url = entry.url as string;
        break;
      }
    }
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const over = await getJson<ErrorBody>(`${url}/generate?n=3`);
    assert.equal(over.status, 400);
    assert.match(over.body.message, /\[1, 2\]/);
    assert.equal((await getJson<Health>(`${url}/healthz`)).body.status, 'ok');
  } finally {
    child.kill('SIGTERM');
  }
  const code = child.exitCode ?? (await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode))));
  assert.equal(code, 0);
  assert.equal(stderr, '', 'no native onnxruntime error, no stack');
  const choices = startup.filter((e) => e.event === 'execution-provider');
  assert.equal(choices.length, 1, 'one line says which provider and why');
  assert.match(String(choices[0]!.reason), noCuda ? /^CPU: / : /^CUDA: /);
  assert.ok(!startup.some((e) => e.level === 'error' || e.level === 'warn'), JSON.stringify(startup));
});

test('ganforge serve --device cuda where CUDA cannot run: exit 1 with the reason on one line, no stack', { skip: !noCuda && 'this machine has CUDA' }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--models', dir, '--port', '0', '--device', 'cuda', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /^ganforge: INVALID_PARAMETER: 'device' is 'cuda' but CUDA cannot run here: onnxruntime-node's CUDA provider is not installed .*\n$/);
  assert.equal(stderr.split('\n').length, 2, stderr);
});

test('CLI flags are checked', async () => {
  const run = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  const device = await run(['--device', 'tpu']);
  assert.equal(device.code, 2);
  assert.match(device.stderr, /'--device' must be one of auto, cuda, cpu, got 'tpu'/);
  const unknown = await run(['--bogus']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown option '--bogus'/);
  const port = await run(['--models', dir, '--port', '70000']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /'--port' must be an integer in \[0, 65535\], got '70000'/);
});

function requestOn(agent: Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}
