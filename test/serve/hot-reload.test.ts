// Hot reload of the models folder against the whole server on a loopback port (startServer with a fast poll): models
// added, replaced (also under load and mid-copy), refused when corrupt while the previous version keeps serving,
// removed, and picked up by a worker restarted after a crash. Every wait is for an observable state with a deadline.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogEntry } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { buildFixtureGenerator } from '../fixtures/onnx-fixtures.ts';
import { getBytes, getJson, makeModelsDir, type ErrorBody } from './serve-fixtures.ts';

interface ModelsBody {
  default: string | null;
  models: { name: string; sha256: string }[];
}

interface Health {
  models: string[];
  refused: string[];
  refusedReasons: Record<string, string>;
  workers: { ready: number; restarts: number };
}

// Slow enough (a few ms per batch) that concurrent requests queue and get merged, small enough to keep the test short.
const BUSY = { slowLayers: 4, slowWidth: 256 };
const version = (weightSeed: number, extra = {}) => buildFixtureGenerator({ weightSeed, ...extra });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let dir: string;
let cleanup: () => void;
let server: RunningServer;
const logs: LogEntry[] = [];

before(async () => {
  ({ dir, cleanup } = makeModelsDir({ default: {}, stable: { weightSeed: 11 }, busy: { ...BUSY, weightSeed: 12 } }));
  server = await startServer({ modelsDir: dir, port: 0, device: 'cpu', workers: 2, logger: (e) => logs.push(e), web: false, watch: { intervalMs: 150, settleMs: 80 } });
});

after(async () => {
  await server.close();
  cleanup();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function servedSha(name: string): Promise<string | undefined> {
  return (await getJson<ModelsBody>(`${server.url}/models`)).body.models.find((m) => m.name === name)?.sha256;
}

const waitForSha = (name: string, expected: string) => waitFor(`${name} to serve ${expected.slice(0, 8)}`, async () => ((await servedSha(name)) === expected ? true : undefined));

/** Writes the file under a temporary name and renames it into place, as an export tool should. */
function writeAtomically(name: string, bytes: Uint8Array): void {
  const temporary = join(dir, `.${name}.partial`);
  writeFileSync(temporary, bytes);
  renameSync(temporary, join(dir, `${name}.onnx`));
}

test('a new .onnx is served without a restart', async () => {
  const bytes = version(21);
  writeFileSync(join(dir, 'added.onnx'), bytes);
  await waitForSha('added', sha256(bytes));
  const image = await getBytes(`${server.url}/generate?model=added&seed=1&n=2`);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get('x-ganforge-model'), 'added');
  assert.ok(logs.some((e) => e.event === 'model-loaded' && e.model === 'added' && e.sha256 === sha256(bytes)));
  const versions = server.pool.modelVersions().filter((v) => v.name === 'added');
  assert.deepEqual(versions.map((v) => [v.state, v.workers]), [['current', 2]], 'both workers hold a warm session');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^ganforge_model_reloads_total\{model="added",result="loaded"\} 1$/m);
  assert.match(metrics, new RegExp(`^ganforge_model_info\\{model="added",provider="cpu",sha256="${sha256(bytes)}"\\} 1$`, 'm'));
});

test('a replaced .onnx: new sha256, different images for the same seed, new ETags', async () => {
  const url = `${server.url}/generate?model=default&seed=5&n=3&format=npy`;
  const before = await getBytes(url);
  const fileBefore = await getBytes(`${server.url}/models/default.onnx`);
  const oldSha = (await servedSha('default'))!;
  const replacement = version(22);
  writeAtomically('default', replacement);
  await waitForSha('default', sha256(replacement));
  const afterReplace = await getBytes(url);
  assert.equal(afterReplace.status, 200);
  assert.notDeepEqual(afterReplace.bytes, before.bytes, 'different weights give different images for the same seed');
  assert.notEqual(afterReplace.headers.get('etag'), before.headers.get('etag'));
  const fileAfter = await getBytes(`${server.url}/models/default.onnx`);
  assert.equal(sha256(fileAfter.bytes), sha256(replacement), 'GET /models/default.onnx returns the new file');
  assert.equal(fileAfter.headers.get('etag'), `"${sha256(replacement)}"`);
  assert.notEqual(fileAfter.headers.get('etag'), fileBefore.headers.get('etag'));
  // A client revalidating with the old tag gets the new image, not a 304.
  const revalidated = await fetch(url, { headers: { 'If-None-Match': before.headers.get('etag')! } });
  assert.equal(revalidated.status, 200);
  assert.ok(logs.some((e) => e.event === 'model-replaced' && e.model === 'default' && e.previousSha256 === oldSha && e.sha256 === sha256(replacement)));
  await waitFor('the old version to be released', () => (server.pool.modelVersions().filter((v) => v.name === 'default').length === 1 ? true : undefined));
});

test('replacing a model under load fails no request, and every answer matches the version its ETag names', async () => {
  const versions = [version(12, BUSY), version(31, BUSY), version(32, BUSY)];
  const query = `${server.url}/generate?model=busy&seed=9&n=4&format=npy`;
  const expected = new Map<string, Uint8Array>(); // ETag → bytes, for each version
  const record = (response: { headers: Headers; bytes: Uint8Array }) => {
    const etag = response.headers.get('etag')!;
    if (!expected.has(etag)) expected.set(etag, response.bytes);
  };
  record(await getBytes(query));
  const answers: { status: number; etag: string | null; bytes: Uint8Array }[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      const response = await getBytes(query);
      answers.push({ status: response.status, etag: response.headers.get('etag'), bytes: response.bytes });
    }
  };
  const clients = Array.from({ length: 6 }, client);
  try {
    for (const next of versions.slice(1)) {
      const seen = answers.length;
      writeAtomically('busy', next);
      await waitForSha('busy', sha256(next));
      await waitFor('requests after the swap', () => (answers.length > seen + 12 ? true : undefined));
    }
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  const failed = answers.filter((a) => a.status !== 200);
  assert.deepEqual(failed.map((a) => a.status), [], 'no request failed during the swaps');
  // Reference bytes of each version, asked for once nothing else is running.
  record(await getBytes(query));
  assert.equal(expected.size, 2, 'first and last version');
  const etags = new Set(answers.map((a) => a.etag!));
  assert.ok(etags.size >= 2, `answers came from ${etags.size} version(s)`);
  for (const answer of answers) {
    const reference = expected.get(answer.etag!);
    if (reference !== undefined) assert.deepEqual(answer.bytes, reference, 'the bytes come from the version the ETag names');
  }
  assert.ok(server.pool.stats().mergedRequests > 0, 'concurrent requests were batched');
});

test('a corrupt or incompatible replacement is refused with a reason; the previous version keeps serving the same bytes', async () => {
  const url = `${server.url}/generate?model=stable&seed=3&n=2&format=npy`;
  const before = await getBytes(url);
  const original = version(11);
  const originalSha = sha256(original);
  assert.equal(await servedSha('stable'), originalSha);
  const bad: [string, Uint8Array, RegExp][] = [
    ['truncated', original.subarray(0, Math.floor(original.length / 2)), /not a readable ONNX model|onnxruntime cannot load|manifest/],
    ['random bytes', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251), /not a readable ONNX model|onnxruntime cannot load|manifest/],
    ['wrong latent width', buildFixtureGenerator({ weightSeed: 11, latentDim: 8, manifest: { latentDim: 9 } }), /\[batch, 9\]/],
    ['no manifest', buildFixtureGenerator({ weightSeed: 11, manifest: false }), /no 'ganforge\.manifest' metadata/],
  ];
  for (const [label, bytes, reason] of bad) {
    const refusals = logs.filter((e) => e.event === 'model-refused' && e.file === 'stable.onnx').length;
    writeFileSync(join(dir, 'stable.onnx'), bytes);
    const entry = await waitFor(`the ${label} file to be refused`, () => logs.filter((e) => e.event === 'model-refused' && e.file === 'stable.onnx')[refusals]);
    assert.match(String(entry.reason), reason, label);
    assert.equal(entry.keptVersion, originalSha, label);
    const health = (await getJson<Health>(`${server.url}/healthz`)).body;
    assert.ok(health.refused.includes('stable.onnx'), label);
    assert.match(health.refusedReasons['stable.onnx'] ?? '', reason, `${label}: /healthz gives the reason too`);
    assert.ok(health.models.includes('stable'), label);
    assert.equal(await servedSha('stable'), originalSha, label);
    assert.deepEqual((await getBytes(url)).bytes, before.bytes, `${label}: same images as before`);
  }
  assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^ganforge_model_reloads_total\{model="stable",result="refused"\} 4$/m);
  // Putting the original back clears the refusal without a swap (same sha256).
  const replaced = logs.filter((e) => e.event === 'model-replaced').length;
  writeFileSync(join(dir, 'stable.onnx'), original);
  await waitFor('the refusal to clear', async () => ((await getJson<Health>(`${server.url}/healthz`)).body.refused.includes('stable.onnx') ? undefined : true));
  assert.equal(logs.filter((e) => e.event === 'model-replaced').length, replaced);
  assert.equal(await servedSha('stable'), originalSha);
});

test('a file written in two halves with a pause: the old version serves meanwhile, the complete one ends up served, no refusal left', async () => {
  const url = `${server.url}/generate?model=stable&seed=4&format=npy`;
  const before = await getBytes(url);
  const next = version(41);
  const fd = openSync(join(dir, 'stable.onnx'), 'w'); // truncates: the watcher sees an empty, then a half file
  try {
    writeSync(fd, next, 0, Math.floor(next.length / 2));
    // Long enough for several checks to see the half file settle (settleMs is 80).
    const pauseEnd = performance.now() + 500;
    while (performance.now() < pauseEnd) {
      assert.deepEqual((await getBytes(url)).bytes, before.bytes, 'the previous version serves while the file is incomplete');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    writeSync(fd, next, Math.floor(next.length / 2));
  } finally {
    closeSync(fd);
  }
  await waitForSha('stable', sha256(next));
  const health = (await getJson<Health>(`${server.url}/healthz`)).body;
  assert.ok(!health.refused.includes('stable.onnx'), 'no refusal is left for the complete file');
  assert.notDeepEqual((await getBytes(url)).bytes, before.bytes);
});

test('a removed .onnx: in-flight requests finish, then 404 UNKNOWN_MODEL and its sessions are released', async () => {
  const bytes = version(51, { slowLayers: 16, slowWidth: 1024 });
  writeFileSync(join(dir, 'doomed.onnx'), bytes);
  await waitForSha('doomed', sha256(bytes));
  const inFlight = Array.from({ length: 4 }, (_, i) => getBytes(`${server.url}/generate?model=doomed&seed=${i}&n=64&format=npy`));
  await waitFor('a running batch', () => (server.pool.stats().busy > 0 ? true : undefined));
  rmSync(join(dir, 'doomed.onnx'));
  await waitFor('doomed to leave /models', async () => ((await servedSha('doomed')) === undefined ? true : undefined));
  assert.deepEqual((await Promise.all(inFlight)).map((r) => r.status), [200, 200, 200, 200]);
  const gone = await getJson<ErrorBody>(`${server.url}/generate?model=doomed&seed=1`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error, 'UNKNOWN_MODEL');
  assert.equal((await getBytes(`${server.url}/models/doomed.onnx`)).status, 404);
  await waitFor('the sessions to be released', () => (server.pool.modelVersions().some((v) => v.name === 'doomed') ? undefined : true));
  assert.ok(logs.some((e) => e.event === 'model-removed' && e.model === 'doomed' && e.sha256 === sha256(bytes)));
  assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^ganforge_model_reloads_total\{model="doomed",result="removed"\} 1$/m);
});

test('a worker restarted after a crash has the models added since startup, also one added while it restarts', async () => {
  const restarts = server.pool.stats().restarts;
  const fromLog = logs.length;
  await server.pool.killWorker(0);
  const during = version(61);
  writeFileSync(join(dir, 'during.onnx'), during);
  await waitForSha('during', sha256(during));
  await waitFor('worker 0 to be back', () => (server.pool.stats().ready === 2 ? true : undefined));
  const restarted = logs.slice(fromLog).find((e) => e.event === 'worker-ready' && e.worker === 0)!;
  assert.ok(Object.keys(restarted.warmupMs as object).includes('added'), `the replacement started with 'added': ${JSON.stringify(restarted.warmupMs)}`);
  await waitFor("both workers to hold 'during'", () => (server.pool.modelVersions().find((v) => v.name === 'during')?.workers === 2 ? true : undefined));
  assert.equal(server.pool.stats().restarts, restarts + 1);
  // Enough concurrent requests that both workers answer some.
  const statuses = await Promise.all(['added', 'during'].flatMap((model) => Array.from({ length: 6 }, (_, i) => getBytes(`${server.url}/generate?model=${model}&seed=${i}`).then((r) => r.status))));
  assert.ok(statuses.every((s) => s === 200), statuses.join(','));
});

test("removing 'default' makes the first model by name the default", async () => {
  rmSync(join(dir, 'default.onnx'));
  await waitFor("'default' to be removed", async () => ((await servedSha('default')) === undefined ? true : undefined));
  const models = (await getJson<ModelsBody>(`${server.url}/models`)).body;
  assert.equal(models.default, models.models[0]!.name);
  assert.equal(models.default, 'added');
  const image = await getBytes(`${server.url}/generate?seed=1`);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get('x-ganforge-model'), 'added');
});

test('watch: false serves the startup set until restart', async () => {
  const fixed = makeModelsDir({ default: {} });
  const frozen = await startServer({ modelsDir: fixed.dir, port: 0, device: 'cpu', workers: 1, logger: () => {}, web: false, watch: false });
  // A watching server on the same folder: once it serves the new file, the frozen one has had the same chance.
  const watching = await startServer({ modelsDir: fixed.dir, port: 0, device: 'cpu', workers: 1, logger: () => {}, web: false, watch: { intervalMs: 50, settleMs: 80 } });
  try {
    assert.equal(frozen.watcher, null);
    writeFileSync(join(fixed.dir, 'late.onnx'), version(71));
    const names = async (url: string) => (await getJson<ModelsBody>(`${url}/models`)).body.models.map((m) => m.name);
    await waitFor('the watching server to serve late.onnx', async () => ((await names(watching.url)).includes('late') ? true : undefined));
    assert.deepEqual(await names(frozen.url), ['default']);
  } finally {
    await Promise.all([frozen.close(), watching.close()]);
    fixed.cleanup();
  }
});

test('CLI: --watch-interval-ms is checked and listed in --help with --no-watch', async () => {
  const run = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
  const [zero, help] = await Promise.all([run(['--models', dir, '--watch-interval-ms', '0']), run(['--help'])]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /'--watch-interval-ms' must be an integer in \[1, 3600000\], got '0'/);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--watch-interval-ms N/);
  assert.match(help.stdout, /--no-watch/);
});
