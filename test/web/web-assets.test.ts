// The web client's HTTP side over a real loopback port: demo page, module and wasm MIME types, cross-origin isolation
// headers (wasm threads depend on them), caching, and clear errors where an SPA fallback would serve HTML instead.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WEB_DIST, ensureWebBuilt, startWebTestServer, type WebTestServer } from './web-server.ts';

function assertIsolated(response: Response): void {
  assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp');
}

describe('webAssetsRouter', () => {
  let server: WebTestServer;
  before(async () => {
    ensureWebBuilt();
    server = await startWebTestServer();
  });
  after(async () => server.close());

  it('serves the demo page at / with COOP/COEP and revalidation', async () => {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assertIsolated(response);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const html = await response.text();
    assert.match(html, /<script type="module" src="\/web\/demo\.js"><\/script>/);
  });

  it('serves the library and the runtime files with the types browsers insist on', async () => {
    const js = await fetch(`${server.url}/web/ganforge.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assertIsolated(js);
    assert.match(await js.text(), /gan-sampler/);
    for (const [file, type] of [['ort/ort-wasm-simd-threaded.wasm', 'application/wasm'], ['ort/ort-wasm-simd-threaded.mjs', 'text/javascript']] as const) {
      const response = await fetch(`${server.url}/web/${file}`, { method: 'HEAD' });
      assert.equal(response.status, 200, file);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(`^${type}`), file);
      assertIsolated(response);
    }
  });

  it('caches hashed chunks for a year and revalidates stable names', async () => {
    const chunk = readdirSync(join(WEB_DIST, 'chunks')).find((f) => f.endsWith('.js'))!;
    const hashed = await fetch(`${server.url}/web/chunks/${chunk}`, { method: 'HEAD' });
    assert.equal(hashed.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const stable = await fetch(`${server.url}/web/ganforge.js`, { method: 'HEAD' });
    assert.equal(stable.headers.get('cache-control'), 'no-cache');
    assert.ok(stable.headers.get('etag'));
  });

  it('answers a missing asset with the API’s JSON 404, never the HTML page', async () => {
    const response = await fetch(`${server.url}/web/ort/ort-wasm-simd-threaded.jsep.mjs`);
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { error: string }).error, 'NOT_FOUND');
    const traversal = await fetch(`${server.url}/web/..%2Fpackage.json`);
    assert.equal(traversal.status, 404);
  });

  it('counts the page and its files in the API metrics and tags them with a request id, like every API route', async () => {
    const page = await fetch(`${server.url}/`);
    const js = await fetch(`${server.url}/web/ganforge.js`, { headers: { 'X-Request-Id': 'client-asset-1' } });
    assert.match(page.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(js.headers.get('x-request-id'), 'client-asset-1');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /ganforge_http_requests_total\{method="GET",route="\/",status="200"\} [1-9]/);
    assert.match(metrics, /ganforge_http_requests_total\{method="GET",route="\/web\/\*",status="200"\} [1-9]/);
    const oversized = await fetch(`${server.url}/web/ganforge.js?${'x'.repeat(5000)}`);
    assert.equal(oversized.status, 400); // the query bound applies here too
  });

  it('leaves the API routes alone', async () => {
    const response = await fetch(`${server.url}/models`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { default: string };
    assert.equal(body.default, 'default');
    // Isolation headers are for the page: other sites may still embed /generate's images.
    assert.equal(response.headers.get('cross-origin-embedder-policy'), null);
    const image = await fetch(`${server.url}/generate?n=1&seed=1&format=png`);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('cross-origin-resource-policy'), null);
  });
});

describe('webAssetsRouter without a build', () => {
  it('says which command builds the client', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ganforge-nodist-'));
    const server = await startWebTestServer({ distDir: empty });
    try {
      const response = await fetch(`${server.url}/`);
      assert.equal(response.status, 404);
      const body = (await response.json()) as { error: string; message: string };
      assert.equal(body.error, 'NOT_FOUND');
      assert.match(body.message, /not built.*node scripts\/build-web\.mjs/);
    } finally {
      await server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
