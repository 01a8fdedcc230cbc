// ETag / If-None-Match on /generate: seeded requests get a strong tag that depends on model version, every normalized
// parameter and the format; a matching If-None-Match is a 304 that runs no inference; unseeded requests are no-store.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateEtag, ifNoneMatchHits } from '../../serve/cache.ts';
import type { InferencePool } from '../../serve/inference-pool.ts';
import { DIGIT_CLASSES, startTestServer, type TestServer } from './serve-fixtures.ts';

let base: string;
let pool: InferencePool;
let testServer: TestServer;

before(async () => {
  testServer = await startTestServer({ default: {}, digits: { classes: DIGIT_CLASSES, weightSeed: 2 } });
  ({ base, pool } = testServer);
});

after(() => testServer.close());

const etagOf = async (query: string): Promise<string> => {
  const response = await fetch(`${base}/generate?${query}`);
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  return response.headers.get('etag')!;
};

test('seeded: strong ETag, no-cache; If-None-Match → 304 with no body and no inference; a stale tag → 200', async () => {
  const first = await fetch(`${base}/generate?seed=5&n=2`);
  const body = new Uint8Array(await first.arrayBuffer());
  const etag = first.headers.get('etag')!;
  assert.match(etag, /^"g2-[0-9a-f]{32}"$/);
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  const batches = pool.stats().batches;
  const cached = await fetch(`${base}/generate?seed=5&n=2`, { headers: { 'If-None-Match': `"other", W/${etag}` } });
  assert.equal(cached.status, 304);
  assert.equal((await cached.arrayBuffer()).byteLength, 0);
  assert.equal(cached.headers.get('etag'), etag);
  assert.equal(cached.headers.get('x-ganforge-seed'), '5');
  assert.equal(pool.stats().batches, batches, 'a 304 must not run the generator');
  const stale = await fetch(`${base}/generate?seed=5&n=2`, { headers: { 'If-None-Match': '"g2-0000"' } });
  assert.equal(stale.status, 200);
  assert.deepEqual(new Uint8Array(await stale.arrayBuffer()), body);
  assert.equal(stale.headers.get('etag'), etag);
});

test('the tag changes with every parameter and the format, and not with how a parameter is spelled', async () => {
  const tags = await Promise.all(['seed=5', 'seed=6', 'seed=5&n=2', 'seed=5&format=json', 'seed=5&format=npy', 'seed=5&truncation=0.5', 'seed=5&truncation=0.5&truncationMode=resample', 'model=digits&seed=5', 'model=digits&seed=5&class=1'].map(etagOf));
  assert.equal(new Set(tags).size, tags.length);
  // Defaults and class names normalize: the same images, the same tag.
  assert.equal(await etagOf('seed=5'), await etagOf('seed=5&n=1&format=png&model=default&truncation=1'));
  assert.equal(await etagOf('model=digits&seed=5&class=one'), await etagOf('model=digits&seed=5&class=1'));
});

test('unseeded requests are not cacheable: no ETag, Cache-Control no-store, If-None-Match: * ignored', async () => {
  const response = await fetch(`${base}/generate`, { headers: { 'If-None-Match': '*' } });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('etag'), null);
  assert.equal(response.headers.get('cache-control'), 'no-store');
});

test('the tag depends on the model version (sha256); If-None-Match parsing', () => {
  const params = { n: 1, seed: 1, labels: null, truncation: 1, truncationMode: 'psi' as const };
  assert.notEqual(generateEtag('a'.repeat(64), params, 'png'), generateEtag('b'.repeat(64), params, 'png'));
  assert.equal(ifNoneMatchHits(undefined, '"x"'), false);
  assert.equal(ifNoneMatchHits(' * ', '"x"'), true);
  assert.equal(ifNoneMatchHits('"a", W/"x"', '"x"'), true);
  assert.equal(ifNoneMatchHits('"xx"', '"x"'), false);
});
