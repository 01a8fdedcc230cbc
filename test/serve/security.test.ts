// Hardening of the API surface: CORS is off unless asked for (then a fixed origin or '*', with preflight), query strings
// are bounded before parsing, model names cannot reach the file system, and error bodies carry no stack or path.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createApp } from '../../serve/app.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import type { LogEntry } from '../../serve/logger.ts';
import { loadModelRepository, type ModelRepository } from '../../serve/model-repository.ts';
import { getJson, makeModelsDir, type ErrorBody } from './serve-fixtures.ts';

let repository: ModelRepository;
let pool: InferencePool;
let cleanup: () => void;
let modelsDir: string;
const servers: Server[] = [];

before(async () => {
  const models = makeModelsDir({ default: {} });
  cleanup = models.cleanup;
  modelsDir = models.dir;
  repository = await loadModelRepository({ dir: models.dir, device: 'cpu' });
  pool = await InferencePool.start({ models: [...repository.models.values()], device: 'cpu', workers: 1 });
});

after(async () => {
  for (const s of servers) s.close();
  await pool.close();
  cleanup();
});

async function serve(options: Partial<Parameters<typeof createApp>[0]> = {}): Promise<string> {
  const server = createServer(createApp({ repository, pool, ...options })).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('CORS off by default: no Access-Control headers, a preflight is not answered as allowed', async () => {
  const base = await serve();
  const response = await fetch(`${base}/generate?seed=1`, { headers: { Origin: 'https://evil.example' } });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('access-control-allow-origin'), null);
  const preflight = await fetch(`${base}/generate`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  assert.notEqual(preflight.status, 204);
});

test("CORS with an origin or '*': allow-origin, exposed headers, 204 preflight; bad values throw", async () => {
  const base = await serve({ cors: 'https://app.example' });
  const response = await fetch(`${base}/generate?seed=1`, { headers: { Origin: 'https://app.example' } });
  await response.arrayBuffer();
  assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.equal(response.headers.get('vary'), 'Origin');
  assert.match(response.headers.get('access-control-expose-headers')!, /X-Ganforge-Seed/);
  assert.match(response.headers.get('access-control-expose-headers')!, /ETag/);
  const preflight = await fetch(`${base}/generate`, { method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, HEAD');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'If-None-Match');
  const any = await serve({ cors: '*' });
  const anyResponse = await fetch(`${any}/models`);
  await anyResponse.arrayBuffer();
  assert.equal(anyResponse.headers.get('access-control-allow-origin'), '*');
  for (const bad of ['app.example', 'https://app.example/', 'https://app.example/path', 'ftp://x.example', '']) {
    assert.throws(() => createApp({ repository, pool, cors: bad }), RangeError, bad);
  }
});

test('query strings are bounded: over the limit → 400 JSON naming the limit, before any parameter is parsed', async () => {
  const base = await serve({ maxQueryBytes: 100 });
  // Exactly at the limit passes the bound and reaches the parameter parser (which then names 'seed').
  const atLimit = await getJson<ErrorBody>(`${base}/generate?seed=${'0'.repeat(95)}`);
  assert.equal(atLimit.body.parameter, 'seed');
  const long = await getJson<ErrorBody>(`${base}/generate?seed=${'9'.repeat(120)}`);
  assert.equal(long.status, 400);
  assert.deepEqual(long.body, { error: 'INVALID_PARAMETER', parameter: 'query', message: 'the query string is 125 bytes; at most 100 are accepted' });
  const defaults = await serve();
  assert.equal((await getJson(`${defaults}/generate?seed=1&x=${'a'.repeat(2048)}`)).status, 400);
  assert.throws(() => createApp({ repository, pool, maxQueryBytes: 10 }), RangeError);
});

/** Sends a raw request path (fetch would normalize '..' away). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('model names cannot escape the models folder, and no error body shows a stack or a server path', async () => {
  const base = await serve();
  for (const path of ['/models/..%2F..%2Fetc%2Fpasswd.onnx', '/models/../../etc/passwd.onnx', '/models/%2e%2e%2fdefault.onnx', '/generate?model=../default', '/generate?model=%00', '/models/%E0%A4%A.onnx']) {
    const { status, body } = await rawGet(base, path);
    assert.ok(status === 404 || status === 400, `${path} → ${status}`);
    const parsed = JSON.parse(body) as ErrorBody;
    assert.ok(['UNKNOWN_MODEL', 'NOT_FOUND', 'INVALID_PARAMETER'].includes(parsed.error), `${path} → ${parsed.error}`);
    assert.ok(!body.includes(modelsDir) && !/\bat .*\.ts:\d+/.test(body) && !body.includes('/etc/passwd\n'), `${path} leaked: ${body}`);
  }
});

test("a client's X-Request-Id is echoed and logged when it is a plain token, replaced otherwise", async () => {
  const logs: LogEntry[] = [];
  const base = await serve({ logger: (e) => logs.push(e) });
  const kept = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'edge-7f3a.1' } });
  await kept.arrayBuffer();
  assert.equal(kept.headers.get('x-request-id'), 'edge-7f3a.1');
  for (const bad of ['a b', 'x'.repeat(129), '"}{"level":"error']) {
    const replaced = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': bad } });
    await replaced.arrayBuffer();
    assert.match(replaced.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  }
  // The access line is written on the response's 'finish', which may come a turn after the client read the body.
  // Bounded only so that a missing line fails below instead of hanging.
  for (let turns = 0; logs.filter((e) => e.event === 'request').length < 4 && turns < 10_000; turns++) await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(logs.filter((e) => typeof e.id === 'string' && !/^[0-9a-f-]{36}$/.test(e.id)).map((e) => e.id), ['edge-7f3a.1']);
});
