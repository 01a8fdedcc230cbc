// /openapi.json against the running app: every route the app answers is described (and nothing else), /generate lists
// every parameter with the live limits, the Error schema lists every code the API can return with its status, errors
// the server really returns are documented for their route, and README.md's API section names every route and code.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createApp } from '../../serve/app.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import { loadModelRepository } from '../../serve/model-repository.ts';
import { httpErrorCodes, openApiPath } from '../../serve/openapi.ts';
import { GENERATE_PARAMETERS, ROUTES } from '../../serve/routes.ts';
import { getJson, makeModelsDir, type ErrorBody } from './serve-fixtures.ts';

interface Operation {
  parameters?: { name: string; in: string; schema: { maximum?: number; enum?: string[] } }[];
  responses: Record<string, { description: string }>;
}
interface OpenApi {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: { Error: { properties: { error: { enum: string[] } } } } };
}

let base: string;
let server: Server;
let pool: InferencePool;
let cleanup: () => void;
let doc: OpenApi;

before(async () => {
  const models = makeModelsDir({ default: {} });
  cleanup = models.cleanup;
  const repository = await loadModelRepository({ dir: models.dir, device: 'cpu' });
  pool = await InferencePool.start({ models: [...repository.models.values()], device: 'cpu', workers: 1 });
  server = createServer(createApp({ repository, pool, limits: { maxImages: 12 }, version: '1.2.3' })).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const response = await getJson<OpenApi>(`${base}/openapi.json`);
  assert.equal(response.status, 200);
  doc = response.body;
});

after(async () => {
  server.close();
  await pool.close();
  cleanup();
});

test('OpenAPI 3.1 with exactly the app routes, each of which the app really answers', async () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.version, '1.2.3');
  const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
  assert.deepEqual(described, ROUTES.map((r) => `GET ${openApiPath(r)}`).sort());
  for (const route of ROUTES) {
    const path = openApiPath(route).replace('{name}', 'default');
    const response = await fetch(`${base}${path}`);
    await response.arrayBuffer();
    assert.equal(response.status, 200, `${route} is described but answers ${response.status}`);
  }
});

test('/generate lists every parameter with the live limits; the Error schema lists every code', () => {
  const generate = doc.paths['/generate']!.get!;
  assert.deepEqual(generate.parameters!.map((p) => p.name), [...GENERATE_PARAMETERS]);
  assert.equal(generate.parameters!.find((p) => p.name === 'n')!.schema.maximum, 12);
  assert.deepEqual(generate.parameters!.find((p) => p.name === 'format')!.schema.enum, ['png', 'json', 'npy']);
  const codes: string[] = doc.components.schemas.Error.properties.error.enum;
  assert.deepEqual(codes, httpErrorCodes().map((c) => c.code as string));
  for (const code of ['INVALID_PARAMETER', 'UNKNOWN_MODEL', 'NOT_FOUND', 'OVERLOADED', 'TIMEOUT', 'INTERNAL']) assert.ok(codes.includes(code), code);
});

test('errors the server really returns are documented for their route with that status and code', async () => {
  const cases: [string, string][] = [
    ['/generate?n=99', '/generate'],
    ['/generate?model=nope', '/generate'],
    ['/generate?bogus=1', '/generate'],
    ['/models/nope.onnx', '/models/{name}.onnx'],
    [`/generate?seed=${'1'.repeat(3000)}`, '/generate'],
  ];
  for (const [url, path] of cases) {
    const { status, body } = await getJson<ErrorBody>(`${base}${url}`);
    const documented = doc.paths[path]!.get!.responses[String(status)];
    assert.ok(documented !== undefined, `${url} → ${status} is not documented`);
    assert.match(documented.description, new RegExp(body.error), `${url} → ${body.error} is not named in the ${status} response`);
  }
});

test("README.md's API section names every route and every error code of openapi.json", (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- api:begin -->([\s\S]*?)<!-- api:end -->/.exec(readme);
  assert.ok(match, 'README.md has no <!-- api:begin --> ... <!-- api:end --> section');
  const section = match[1]!;
  if (!section.includes('/generate')) {
    // The lead writes this section; until then there is nothing to compare.
    t.skip('README API section is still a placeholder');
    return;
  }
  const { missingRoutes, missingCodes } = missingFromApiSection(section, doc.components.schemas.Error.properties.error.enum);
  assert.deepEqual(missingRoutes, [], `README API section misses routes: ${missingRoutes.join(', ')}`);
  assert.deepEqual(missingCodes, [], `README API section misses error codes: ${missingCodes.join(', ')}`);
});

/** Routes (as /models/:name.onnx, /models/{name}.onnx or /models/<name>.onnx) and codes the section does not mention. */
function missingFromApiSection(section: string, codes: readonly string[]): { missingRoutes: string[]; missingCodes: string[] } {
  const missingRoutes = ROUTES.filter((r) => {
    const path = r.replace(/^GET /, '');
    return ![path, openApiPath(r), path.replace(':name', '<name>')].some((form) => section.includes(form));
  });
  // Whole words: TIMEOUT does not count as mentioned just because REQUEST_TIMEOUT is.
  return { missingRoutes, missingCodes: codes.filter((c) => !new RegExp(`\\b${c}\\b`).test(section)) };
}

test('the README check itself notices a missing route or code', () => {
  const full = `${ROUTES.map((r) => r.replace(':name', '<name>')).join('\n')}\n${httpErrorCodes().map((c) => c.code).join(' ')}`;
  const codes = httpErrorCodes().map((c) => c.code as string);
  assert.deepEqual(missingFromApiSection(full, codes), { missingRoutes: [], missingCodes: [] });
  assert.deepEqual(missingFromApiSection(full.replace('GET /readyz', '').replace(/\bTIMEOUT\b/, ''), codes), { missingRoutes: ['GET /readyz'], missingCodes: ['TIMEOUT'] });
});
