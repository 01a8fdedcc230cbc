// Hostile input against a real server on loopback (startServer, with the browser client served from a temporary
// folder): path traversal in every path the server serves, plain, encoded and double-encoded; oversized query strings,
// paths and headers; slow and idle clients, which the server must cut itself (observed as the socket closing, never
// as a time); n and queue limits that bound memory; and request bodies where none are expected. Every answer is a
// 4xx (or a 503 where the queue limit is the point), and the server keeps serving.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogEntry } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { startClients, statusCounts, waitFor } from './load-clients.ts';
import { openSocket, parseResponse, rawGet, rawRequest, readUntilClosed } from './raw-http.ts';
import { getBytes, makeModelsDir } from './serve-fixtures.ts';

const SECRET = 'TOP-SECRET-7f3a9c';
const HEADERS_TIMEOUT_MS = 400;
const MAX_IMAGES = 64;
const MAX_QUEUED_IMAGES = 256;
// Merged batches stop here; a single request is never split, so a batch holds at most max(MAX_BATCH, MAX_IMAGES).
const MAX_BATCH = 128;

let root: string;
let models: ReturnType<typeof makeModelsDir>;
let server: RunningServer;
const logs: LogEntry[] = [];

before(async () => {
  // root/secret.txt and root/web/.env must never be served; root/web is the client's dist folder.
  root = mkdtempSync(join(tmpdir(), 'ganforge-hostile-'));
  const web = join(root, 'web');
  mkdirSync(join(web, 'chunks'), { recursive: true });
  writeFileSync(join(root, 'secret.txt'), SECRET);
  writeFileSync(join(web, '.env'), SECRET);
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>client</title>');
  writeFileSync(join(web, 'ganforge.js'), 'export {};');
  writeFileSync(join(web, 'chunks', 'a.js'), 'export const a = 1;');
  models = makeModelsDir({ default: {}, heavy: { slowLayers: 4, slowWidth: 256, weightSeed: 7 } });
  writeFileSync(join(models.dir, '..', 'outside.onnx'), SECRET); // a sibling of the models folder, outside it
  server = await startServer({
    modelsDir: models.dir, port: 0, device: 'cpu', workers: 2, logger: (e) => logs.push(e), web, watch: false,
    headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 2 * HEADERS_TIMEOUT_MS, limits: { maxImages: MAX_IMAGES },
    pool: { maxQueuedImages: MAX_QUEUED_IMAGES, maxBatchImages: MAX_BATCH },
  });
});

after(async () => {
  await server.close();
  models.cleanup();
  rmSync(join(models.dir, '..', 'outside.onnx'), { force: true });
  rmSync(root, { recursive: true, force: true });
});

/** One error body as the API writes them: JSON with a known code, and nothing of the file system in it. */
function assertCleanError(label: string, response: { status: number; headers: Record<string, string>; body: Buffer }, statuses: number[]): void {
  assert.ok(statuses.includes(response.status), `${label} → ${response.status} ${response.body.toString().slice(0, 200)}`);
  const text = response.body.toString();
  assert.ok(!text.includes(SECRET), `${label} leaked the secret`);
  assert.ok(!text.includes(root) && !text.includes(models.dir) && !/\bat .*\.ts:\d+/.test(text), `${label} leaked a path or stack: ${text}`);
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, `${label}: ${text}`);
  const body = JSON.parse(text) as { error: string; message: string };
  assert.ok(['NOT_FOUND', 'UNKNOWN_MODEL', 'INVALID_PARAMETER', 'PAYLOAD_TOO_LARGE', 'METHOD_NOT_ALLOWED', 'HEADERS_TOO_LARGE', 'REQUEST_TIMEOUT'].includes(body.error), `${label} → ${body.error}`);
  assert.ok(text.length < 1024, `${label}: a ${text.length}-byte error body`);
}

test('path traversal, plain, encoded and double-encoded, in every path the server serves, reaches nothing outside', async () => {
  const escapes = [
    '../', '..%2f', '%2e%2e/', '%2e%2e%2f', '%2E%2E%2F', '..%5c', '..\\', '%252e%252e%252f', '..%252f', '%c0%ae%c0%ae/', '%uff0e%uff0e/', '.%2e/', '....//',
  ];
  const targets: string[] = [];
  for (const up of escapes) {
    for (const depth of [1, 2, 6]) {
      const climb = up.repeat(depth);
      targets.push(`/web/${climb}secret.txt`, `/web/chunks/${climb}${climb}secret.txt`, `/web/${climb}web/.env`, `/models/${climb}outside.onnx`, `/models/${climb}etc/passwd.onnx`, `/${climb}secret.txt`, `/${climb}etc/passwd`);
      targets.push(`/generate?model=${climb}outside`, `/models/${encodeURIComponent(climb)}outside.onnx`);
    }
  }
  targets.push('/web/.env', '/web/%2eenv', '/web/%252eenv', '/web/chunks/../.env', '/models/.onnx', '/models/%00.onnx', '/models/default.onnx%00.txt', '/web/ganforge.js%00', '/index.html/../../secret.txt');
  const statuses: Record<number, number> = {};
  for (const target of targets) {
    const response = await rawGet(server.url, target);
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    assertCleanError(target, response, [400, 404]);
  }
  // The real files are still there for the real paths (so the 404s above are not a broken server).
  for (const [path, text] of [['/web/ganforge.js', 'export {};'], ['/web/chunks/a.js', 'export const a = 1;']]) {
    const response = await rawGet(server.url, path!);
    assert.equal(response.status, 200, path);
    assert.equal(response.body.toString(), text);
  }
  assert.equal((await rawGet(server.url, '/models/default.onnx')).status, 200);
  console.log(JSON.stringify({ traversal: targets.length, statuses }));
});

test('oversized query strings, paths and headers: 400 / 404 / 431, never echoed back; the server keeps serving', async () => {
  const query = await rawGet(server.url, `/generate?seed=1&x=${'a'.repeat(8 * 1024)}`);
  assertCleanError('8 KB query', query, [400]);
  assert.match(query.body.toString(), /at most 2048 are accepted/);
  const path = await rawGet(server.url, `/${'p'.repeat(12 * 1024)}`);
  assertCleanError('12 KB path', path, [404]);
  // Above Node's 16 KiB limit on the request line and headers: refused by the parser with 431 (the API's JSON error
  // body, not Node's bare status line) and the connection closed.
  const overflow = await rawGet(server.url, `/generate?seed=1&x=${'a'.repeat(64 * 1024)}`);
  assertCleanError('64 KB request line', overflow, [431]);
  assert.equal((JSON.parse(overflow.body.toString()) as { error: string }).error, 'HEADERS_TOO_LARGE');
  for (const header of [`X-Big: ${'h'.repeat(20 * 1024)}`, Array.from({ length: 800 }, (_, i) => `X-H${i}: ${'v'.repeat(24)}`).join('\r\n')]) {
    const socket = await openSocket(server.url);
    const closed = readUntilClosed(socket);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n${header}\r\n\r\n`);
    const { data } = await closed;
    assertCleanError('oversized headers', parseResponse(data), [431]);
  }
  assert.equal((await getBytes(`${server.url}/generate?seed=1`)).status, 200);
});

// The runner's timeout is the safety net: a server that never closed these sockets would hang here.
test('slow and idle clients: the server sends 408 and closes the socket itself', { timeout: 120_000 }, async () => {
  const cases: Record<string, (send: (text: string) => void) => (() => void) | void> = {
    'connects and sends nothing': () => {},
    'sends half its headers, then stalls': (send) => send('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n'),
    // Each line comes well within the timeout; the headers as a whole never end.
    'trickles header lines forever (slowloris)': (send) => {
      send('GET /healthz HTTP/1.1\r\n');
      let line = 0;
      const timer = setInterval(() => send(`X-Trickle-${line++}: x\r\n`), HEADERS_TIMEOUT_MS / 8);
      return () => clearInterval(timer);
    },
    'one byte of the request line at a time': (send) => {
      const text = 'GET /healthz HTTP/1.1\r\n';
      let at = 0;
      const timer = setInterval(() => { if (at < text.length) send(text[at++]!); }, HEADERS_TIMEOUT_MS / 8);
      return () => clearInterval(timer);
    },
  };
  await Promise.all(Object.entries(cases).map(async ([label, start]) => {
    const socket = await openSocket(server.url);
    const closed = readUntilClosed(socket);
    const stop = start((text) => { if (!socket.destroyed) socket.write(text); });
    const { data } = await closed;
    if (typeof stop === 'function') stop();
    const response = parseResponse(data);
    assertCleanError(label, response, [408]);
    assert.equal((JSON.parse(response.body.toString()) as { error: string }).error, 'REQUEST_TIMEOUT', label);
  }));
  assert.equal((await getBytes(`${server.url}/healthz`)).status, 200);
});

test('request bodies where none are expected: 405 / 413 at once, the body is never read, the connection is closed', async () => {
  const post = await rawRequest(server.url, 'POST /generate HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2', '{}');
  assertCleanError('POST', post, [405]);
  assert.equal(post.headers.allow, 'GET, HEAD');
  for (const method of ['PUT', 'DELETE', 'PATCH', 'TRACE']) {
    assertCleanError(method, await rawRequest(server.url, `${method} /healthz HTTP/1.1`), [405]);
  }
  // Not a method at all, and not HTTP at all: Node's parser refuses them before the app sees anything; the answer is
  // still the API's JSON error.
  assertCleanError('unknown method', await rawRequest(server.url, 'CONNECTX /healthz HTTP/1.1'), [400]);
  const garbage = await openSocket(server.url);
  const garbageClosed = readUntilClosed(garbage);
  garbage.write('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n'); // a TLS ClientHello's first bytes
  assertCleanError('TLS bytes on the plain port', parseResponse((await garbageClosed).data), [400]);
  // A GET announcing a huge body: answered 413 before any of it is read, and the connection is closed instead of
  // reading the body to find the next request.
  const socket = await openSocket(server.url);
  const closed = readUntilClosed(socket);
  socket.write('GET /generate?seed=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n');
  socket.write(Buffer.alloc(64 * 1024, 0x61));
  const { data } = await closed;
  const announced = parseResponse(data);
  assertCleanError('GET with Content-Length: 1 GiB', announced, [413]);
  assert.equal(announced.headers.connection, 'close');
  // Chunked: the same, without a length.
  const chunked = await openSocket(server.url);
  const chunkedClosed = readUntilClosed(chunked);
  chunked.write('GET /models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n');
  chunked.write(Buffer.alloc(4096, 0x62));
  const chunkedAnswer = parseResponse((await chunkedClosed).data);
  assertCleanError('GET with a chunked body', chunkedAnswer, [413]);
  assert.equal((await getBytes(`${server.url}/healthz`)).status, 200);
});

test('n and queue limits bound memory: n over the limit is refused before any work, a burst beyond the queue gets 503 OVERLOADED', async () => {
  const batchesBefore = server.pool.stats().batches;
  for (const n of [MAX_IMAGES + 1, 1e6, 2 ** 53, -1]) {
    assertCleanError(`n=${n}`, await rawGet(server.url, `/generate?n=${n}`), [400]);
  }
  assert.equal(server.pool.stats().batches, batchesBefore, 'nothing ran for refused requests');
  // 48 clients each asking for the largest n (48 × 64 images = 12× the queue limit) as JSON, the biggest body.
  const rssBefore = process.memoryUsage().rss;
  const clients = startClients(48, (client, seq) => `${server.url}/generate?model=heavy&n=${MAX_IMAGES}&seed=${client * 1000 + seq}&format=json`);
  let answers;
  try {
    await waitFor('overload and answers', () => (clients.answers.some((a) => a.status === 503) && clients.answers.filter((a) => a.status === 200).length >= 48 ? true : undefined));
  } finally {
    answers = await clients.stop();
  }
  const counts = statusCounts(answers);
  assert.deepEqual(Object.keys(counts).sort(), ['200', '503'], JSON.stringify(counts));
  for (const answer of answers.filter((a) => a.status === 503)) {
    const body = JSON.parse(new TextDecoder().decode(answer.bytes)) as { error: string; message: string };
    assert.equal(body.error, 'OVERLOADED');
    assert.match(body.message, new RegExp(`limit ${MAX_QUEUED_IMAGES}`));
    assert.equal(answer.headers.get('retry-after'), '1');
  }
  // No batch was larger than the batch limit (whether requests merged is the batching policy's business).
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const bucket = (le: string) => Number(new RegExp(`^ganforge_batch_images_bucket\\{model="heavy",le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
  assert.ok(bucket('+Inf') > 0);
  assert.equal(bucket(String(MAX_BATCH)), bucket('+Inf'), `a batch of more than ${MAX_BATCH} images ran`);
  // Generous: the admitted work is at most 256 images of 30 floats; 48 clients' bodies are a few MB.
  const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMb < 256, `RSS grew by ${grownMb.toFixed(0)} MB`);
  console.log(JSON.stringify({ burst: counts, rssGrowthMb: Math.round(grownMb) }));
});
