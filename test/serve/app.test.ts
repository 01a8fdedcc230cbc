// The HTTP API through its app object (createApp mounted on a bare loopback http.Server by the test): outputs,
// determinism, formats, every error path with its status and body, and the per-request log line.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get, request, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { decode } from 'fast-png';
import { toByte } from '../../common/pixels.ts';
import { createApp } from '../../serve/app.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import type { LogEntry } from '../../serve/logger.ts';
import type { ModelRepository } from '../../serve/model-repository.ts';
import { DIGIT_CLASSES, getBytes, getJson, parseNpy, startTestServer, type ErrorBody, type TestServer } from './serve-fixtures.ts';

interface ImagesJson {
  model: string;
  seed: number;
  shape: number[];
  range: number[];
  labels: number[] | null;
  data: number[];
}

let base: string;
let repository: ModelRepository;
let testServer: TestServer;
const logs: LogEntry[] = [];

before(async () => {
  testServer = await startTestServer(
    { default: {}, digits: { classes: DIGIT_CLASSES, weightSeed: 2 } },
    { limits: { maxImages: 16 }, logger: (e) => logs.push(e), version: '9.9.9' },
  );
  ({ base, repository } = testServer);
});

after(() => testServer.close());

test('PNG: one image is H×W, n=4 is a padded 2×2 grid, n=5 a 3×2 grid; pixels are the JSON values as bytes', async () => {
  const one = await getBytes(`${base}/generate?seed=7`);
  assert.equal(one.status, 200);
  assert.equal(one.headers.get('content-type'), 'image/png');
  assert.equal(one.headers.get('x-ganforge-model'), 'default');
  assert.equal(one.headers.get('x-ganforge-seed'), '7');
  const image = decode(one.bytes);
  assert.deepEqual([image.width, image.height, image.channels], [5, 6, 1]);
  const json = (await getJson<ImagesJson>(`${base}/generate?seed=7&format=json`)).body;
  assert.deepEqual([...(image.data as Uint8Array)], json.data.map((v) => toByte(v, -1, 1)));
  const four = decode((await getBytes(`${base}/generate?seed=7&n=4`)).bytes);
  assert.deepEqual([four.width, four.height], [2 * 5 + 3 * 2, 2 * 6 + 3 * 2]);
  const five = decode((await getBytes(`${base}/generate?seed=7&n=5`)).bytes);
  assert.deepEqual([five.width, five.height], [3 * 5 + 4 * 2, 2 * 6 + 3 * 2]);
});

test('same seed → identical bytes; different seeds differ; image k of a grid is seed-stream k', async () => {
  const a = await getBytes(`${base}/generate?seed=123&n=4`);
  const b = await getBytes(`${base}/generate?seed=123&n=4`);
  const c = await getBytes(`${base}/generate?seed=124&n=4`);
  assert.deepEqual(a.bytes, b.bytes);
  assert.notDeepEqual(a.bytes, c.bytes);
  const grid = (await getJson<ImagesJson>(`${base}/generate?seed=123&n=3&format=json`)).body;
  const single = (await getJson<ImagesJson>(`${base}/generate?seed=123&n=1&format=json`)).body;
  assert.deepEqual(grid.data.slice(0, 30), single.data);
});

test('a missing seed is drawn at random and reported in the header and in JSON', async () => {
  const first = await getJson<ImagesJson>(`${base}/generate?format=json`);
  const second = await getJson<ImagesJson>(`${base}/generate?format=json`);
  const seed = Number(first.headers.get('x-ganforge-seed'));
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff);
  assert.equal(first.body.seed, seed);
  assert.notEqual(first.body.seed, second.body.seed);
  const repeat = await getJson<ImagesJson>(`${base}/generate?format=json&seed=${seed}`);
  assert.deepEqual(repeat.body.data, first.body.data);
});

test('JSON: model, seed, shape, range, data length; values inside the tanh range', async () => {
  const { status, headers, body } = await getJson<ImagesJson>(`${base}/generate?seed=5&n=3&format=json`);
  assert.equal(status, 200);
  assert.match(headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(body.model, 'default');
  assert.equal(body.seed, 5);
  assert.deepEqual(body.shape, [3, 6, 5, 1]);
  assert.deepEqual(body.range, [-1, 1]);
  assert.equal(body.labels, null);
  assert.equal(body.data.length, 3 * 6 * 5);
  assert.ok(body.data.every((v) => v > -1 && v < 1));
  assert.ok(new Set(body.data).size > 80, 'not a constant output');
});

test('NPY: header parses and values equal the JSON values', async () => {
  const npy = await getBytes(`${base}/generate?seed=5&n=3&format=npy`);
  assert.equal(npy.status, 200);
  assert.equal(npy.headers.get('x-ganforge-seed'), '5');
  const parsed = parseNpy(npy.bytes);
  assert.match(parsed.header, /'descr': '<f4'/);
  assert.deepEqual(parsed.shape, [3, 6, 5, 1]);
  const json = (await getJson<ImagesJson>(`${base}/generate?seed=5&n=3&format=json`)).body;
  assert.deepEqual([...parsed.data], json.data);
});

test('conditional model: classes cycle by default, a fixed class by index or name, labels change the image', async () => {
  const cycled = (await getJson<ImagesJson>(`${base}/generate?model=digits&seed=1&n=4&format=json`)).body;
  assert.deepEqual(cycled.labels, [0, 1, 2, 0]);
  const byName = (await getJson<ImagesJson>(`${base}/generate?model=digits&seed=1&n=2&class=TWO&format=json`)).body;
  const byIndex = (await getJson<ImagesJson>(`${base}/generate?model=digits&seed=1&n=2&class=2&format=json`)).body;
  assert.deepEqual(byName.labels, [2, 2]);
  assert.deepEqual(byName.data, byIndex.data);
  const zero = (await getJson<ImagesJson>(`${base}/generate?model=digits&seed=1&n=1&class=0&format=json`)).body;
  assert.deepEqual(zero.data, cycled.data.slice(0, 30), 'image 0 of the cycled grid has class 0');
  assert.notDeepEqual(zero.data, byIndex.data.slice(0, 30));
});

test('truncation: psi 0.5 shrinks the latent and changes the image; resample is accepted', async () => {
  const plain = (await getJson<ImagesJson>(`${base}/generate?seed=9&format=json`)).body;
  const psi = (await getJson<ImagesJson>(`${base}/generate?seed=9&truncation=0.5&format=json`)).body;
  const resample = await getJson<ImagesJson>(`${base}/generate?seed=9&truncation=0.5&truncationMode=resample&format=json`);
  assert.notDeepEqual(plain.data, psi.data);
  assert.equal(resample.status, 200);
  assert.notDeepEqual(resample.body.data, psi.data);
});

const errorCases: [string, number, string, string | undefined, RegExp?][] = [
  ['n=abc', 400, 'INVALID_PARAMETER', 'n', /'n' must be an integer in \[1, 16\], got "abc"/],
  ['n=0', 400, 'INVALID_PARAMETER', 'n'],
  ['n=17', 400, 'INVALID_PARAMETER', 'n', /\[1, 16\]/],
  ['n=1.5', 400, 'INVALID_PARAMETER', 'n'],
  ['n=', 400, 'INVALID_PARAMETER', 'n'],
  ['n=1&n=2', 400, 'INVALID_PARAMETER', 'n', /given 2 times/],
  ['seed=-1', 400, 'INVALID_PARAMETER', 'seed', /\[0, 4294967295\]/],
  ['seed=4294967296', 400, 'INVALID_PARAMETER', 'seed'],
  ['seed=1e3', 400, 'INVALID_PARAMETER', 'seed'],
  ['seed=abc', 400, 'INVALID_PARAMETER', 'seed'],
  ['model=nope', 404, 'UNKNOWN_MODEL', 'model', /available: default, digits/],
  ['model=default&model=digits', 400, 'INVALID_PARAMETER', 'model', /given 2 times/],
  ['format=gif', 400, 'INVALID_PARAMETER', 'format', /png, json, npy/],
  ['class=1', 400, 'INVALID_PARAMETER', 'class', /unconditional/],
  ['model=digits&class=3', 400, 'INVALID_PARAMETER', 'class', /\[0, 2\] or a name \(zero, one, two\), got "3"/],
  ['model=digits&class=seven', 400, 'INVALID_PARAMETER', 'class'],
  ['model=digits&class=-1', 400, 'INVALID_PARAMETER', 'class'],
  ['truncation=0', 400, 'INVALID_PARAMETER', 'truncation', /\[0\.01, 1\]/],
  ['truncation=1.5', 400, 'INVALID_PARAMETER', 'truncation'],
  ['truncation=NaN', 400, 'INVALID_PARAMETER', 'truncation'],
  ['truncation=abc', 400, 'INVALID_PARAMETER', 'truncation'],
  ['truncationMode=biggan', 400, 'INVALID_PARAMETER', 'truncationMode'],
  ['sede=5', 400, 'INVALID_PARAMETER', 'sede', /unknown parameter 'sede'/],
];

test('every /generate error path: status and {error, message, parameter}', async () => {
  for (const [query, status, code, parameter, message] of errorCases) {
    const response = await getJson<ErrorBody>(`${base}/generate?${query}`);
    assert.equal(response.status, status, query);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/, query);
    assert.equal(response.body.error, code, query);
    assert.equal(response.body.parameter, parameter, query);
    assert.equal(typeof response.body.message, 'string', query);
    if (message !== undefined) assert.match(response.body.message, message, query);
  }
});

test('unknown routes are 404 JSON listing the routes, other methods 405 with Allow; a malformed path is 400', async () => {
  const missing = await getJson<ErrorBody>(`${base}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'NOT_FOUND');
  assert.match(missing.body.message, /GET \/generate/);
  const post = await fetch(`${base}/generate`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal(((await post.json()) as ErrorBody).error, 'METHOD_NOT_ALLOWED');
  const postUnknown = await fetch(`${base}/nope`, { method: 'POST' });
  assert.equal(postUnknown.status, 404);
  const malformed = await getJson<ErrorBody>(`${base}/models/%E0%A4%A.onnx`);
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error, 'INVALID_PARAMETER');
});

/** A raw request, for what fetch will not send (a GET with a body). */
function rawRequest(url: string, options: RequestOptions, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a request body is refused with 413 PAYLOAD_TOO_LARGE and the connection closed, whether sized or chunked', async () => {
  const sized = await rawRequest(`${base}/generate?seed=1`, { method: 'GET', headers: { 'Content-Type': 'text/plain', 'Content-Length': '5' } }, 'hello');
  assert.equal(sized.status, 413);
  assert.equal(sized.headers.connection, 'close');
  assert.equal((JSON.parse(sized.body) as ErrorBody).error, 'PAYLOAD_TOO_LARGE');
  const chunked = await rawRequest(`${base}/healthz`, { method: 'GET', headers: { 'Transfer-Encoding': 'chunked' } }, 'x'.repeat(100_000));
  assert.equal(chunked.status, 413);
  assert.match((JSON.parse(chunked.body) as ErrorBody).message, /takes no request body/);
  const empty = await rawRequest(`${base}/healthz`, { method: 'GET', headers: { 'Content-Length': '0' } });
  assert.equal(empty.status, 200);
});

test('HEAD answers the headers GET would, with no body; a seeded GET revalidates to 304', async () => {
  const get = await getBytes(`${base}/generate?seed=9&n=2`);
  const head = await rawRequest(`${base}/generate?seed=9&n=2`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], String(get.bytes.length));
  assert.equal(head.headers.etag, get.headers.get('etag'));
  const revalidated = await fetch(`${base}/generate?seed=9&n=2`, { headers: { 'If-None-Match': get.headers.get('etag')! } });
  assert.equal(revalidated.status, 304);
  const model = await fetch(`${base}/models/default.onnx`);
  const again = await fetch(`${base}/models/default.onnx`, { headers: { 'If-None-Match': model.headers.get('etag')! } });
  assert.equal(again.status, 304);
});

test('the server is still up after all the errors', async () => {
  const health = await getJson<{ status: string }>(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
});

test('/models lists each model with its manifest facts; /models/<name>.onnx serves the exact file with an ETag', async () => {
  const { body } = await getJson<{ default: string; models: Record<string, unknown>[] }>(`${base}/models`);
  assert.equal(body.default, 'default');
  assert.deepEqual(body.models.map((m) => m.name), ['default', 'digits']);
  const digits = body.models[1]!;
  assert.deepEqual(digits.classes, DIGIT_CLASSES);
  assert.equal(digits.family, 'cgan');
  assert.equal(digits.latentDim, 8);
  assert.deepEqual(digits.imageShape, [6, 5, 1]);
  assert.deepEqual(digits.valueRange, [-1, 1]);
  assert.equal(digits.provider, 'cpu');
  assert.equal((digits.training as { dataset: string }).dataset, 'fixture');
  const file = await getBytes(`${base}/models/digits.onnx`);
  assert.equal(file.status, 200);
  assert.deepEqual(file.bytes, repository.models.get('digits')!.bytes);
  const etag = file.headers.get('etag')!;
  assert.equal(etag, `"${repository.models.get('digits')!.sha256}"`);
  // fetch() adds 'Cache-Control: no-cache' to conditional requests, which disables 304s; use node:http.
  const revalidated = await new Promise<number>((resolve, reject) => {
    get(`${base}/models/digits.onnx`, { headers: { 'If-None-Match': etag } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
  });
  assert.equal(revalidated, 304);
  const unknown = await getJson<ErrorBody>(`${base}/models/..%2Fsecret.onnx`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error, 'UNKNOWN_MODEL');
});

test('/healthz reports version, models, providers, workers', async () => {
  const { body } = await getJson<{ version: string; models: string[]; providers: Record<string, string>; fallbackReasons: Record<string, string>; workers: { workers: number } }>(`${base}/healthz`);
  assert.equal(body.version, '9.9.9');
  assert.deepEqual(body.models, ['default', 'digits']);
  assert.deepEqual(body.providers, { default: 'cpu', digits: 'cpu' });
  assert.deepEqual(body.fallbackReasons, {});
  assert.equal(body.workers.workers, 1);
});

test('one JSON log line per request, with an id matching the X-Request-Id header', async () => {
  const response = await fetch(`${base}/generate?seed=3&n=2&model=digits`);
  await response.arrayBuffer();
  const id = response.headers.get('x-request-id');
  const lines = logs.filter((e) => e.event === 'request' && e.id === id);
  assert.equal(lines.length, 1);
  assert.deepEqual({ ...lines[0], ms: 0 }, { level: 'info', event: 'request', id, model: 'digits', format: 'png', n: 2, seed: 3, method: 'GET', path: '/generate', status: 200, ms: 0, aborted: false });
  const bad = await fetch(`${base}/generate?n=0`);
  await bad.arrayBuffer();
  const badLine = logs.find((e) => e.id === bad.headers.get('x-request-id'))!;
  assert.equal(badLine.status, 400);
  assert.equal(badLine.error, 'INVALID_PARAMETER');
});

test('a full queue is 503 OVERLOADED with Retry-After, and the server keeps serving', async () => {
  const tight = await InferencePool.start({ models: [...repository.models.values()], device: 'cpu', workers: 1, maxQueuedImages: 4 });
  const app = createApp({ repository, pool: tight, limits: { maxImages: 16 } });
  const other = createServer(app).listen(0, '127.0.0.1');
  await once(other, 'listening');
  const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  try {
    const overloaded = await getJson<ErrorBody>(`${url}/generate?n=5`);
    assert.equal(overloaded.status, 503);
    assert.equal(overloaded.headers.get('retry-after'), '1');
    assert.equal(overloaded.body.error, 'OVERLOADED');
    assert.match(overloaded.body.message, /limit 4/);
    assert.equal((await getBytes(`${url}/generate?n=4`)).status, 200);
  } finally {
    other.close();
    await tight.close();
  }
});
