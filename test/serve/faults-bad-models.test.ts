// Bad .onnx files dropped into the models folder while 16 clients use the other models, on a real server on loopback
// (hot reload, 2 workers): truncated, corrupt, and with the wrong inputs, as a new name and as a replacement of a
// served model. The other models keep serving exactly their bytes, each bad file is listed on /healthz and logged
// with its reason, and it is served once a valid file takes its place.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogEntry } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { buildFixtureGenerator } from '../fixtures/onnx-fixtures.ts';
import { sha256, startClients, statusCounts, waitFor } from './load-clients.ts';
import { getBytes, getJson, makeModelsDir } from './serve-fixtures.ts';

interface Health {
  models: string[];
  refused: string[];
  refusedReasons: Record<string, string>;
}

const GOOD = buildFixtureGenerator({ weightSeed: 41 });
const BAD: [string, Uint8Array, RegExp][] = [
  ['truncated', GOOD.subarray(0, Math.floor(GOOD.length * 0.6)), /not a readable ONNX model|onnxruntime cannot load|manifest/],
  ['corrupt', Uint8Array.from(GOOD, (byte, i) => (i > 64 && i % 3 === 0 ? byte ^ 0x5a : byte)), /not a readable ONNX model|onnxruntime cannot load|manifest/],
  ['empty', new Uint8Array(0), /not a readable ONNX model|onnxruntime cannot load|manifest|empty/],
  // The graph takes 'z'; the manifest says the latent input is 'noise'.
  ['wrong inputs', buildFixtureGenerator({ weightSeed: 41, manifest: { inputs: { latent: 'noise', label: null } } }), /graph inputs are \[z\] but the manifest names \[noise\]/],
  ['wrong latent width', buildFixtureGenerator({ weightSeed: 41, latentDim: 8, manifest: { latentDim: 12 } }), /must be float32 \[batch, 12\]/],
];

let models: ReturnType<typeof makeModelsDir>;
let server: RunningServer;
const logs: LogEntry[] = [];
const reference = new Map<string, Uint8Array>();
let urls: string[];

before(async () => {
  models = makeModelsDir({ alpha: { slowLayers: 4, slowWidth: 256, weightSeed: 2 }, beta: { weightSeed: 3 } });
  server = await startServer({ modelsDir: models.dir, port: 0, device: 'cpu', workers: 2, logger: (e) => logs.push(e), web: false, watch: { intervalMs: 100, settleMs: 50 } });
  urls = ['alpha', 'beta'].flatMap((model) => [0, 1, 2].map((seed) => `${server.url}/generate?model=${model}&seed=${seed}&n=8&format=npy`));
  for (const url of urls) reference.set(url, (await getBytes(url)).bytes);
});

after(async () => {
  await server.close();
  models.cleanup();
});

const refusalsOf = (file: string) => logs.filter((e) => e.event === 'model-refused' && e.file === file);

/** Drops each bad file in turn as `file` while the clients run, then a valid one; checks what the server says. */
async function dropUnderLoad(file: string, servedBefore: string | undefined): Promise<void> {
  const clients = startClients(16, (client, seq) => urls[(client + seq) % urls.length]!);
  let answers;
  try {
    await waitFor('steady load', () => (clients.answers.length >= 32 ? true : undefined));
    for (const [label, bytes, reason] of BAD) {
      const before = refusalsOf(file).length;
      writeFileSync(join(models.dir, file), bytes);
      const entry = await waitFor(`the ${label} file to be refused`, () => refusalsOf(file)[before]);
      assert.match(String(entry.reason), reason, `${label}: logged reason`);
      assert.equal(entry.level, 'warn');
      if (servedBefore !== undefined) assert.equal(entry.keptVersion, servedBefore, `${label}: the served version is kept`);
      const health = (await getJson<Health>(`${server.url}/healthz`)).body;
      assert.ok(health.refused.includes(file), `${label}: /healthz lists ${file} as refused`);
      assert.match(health.refusedReasons[file] ?? '', reason, `${label}: /healthz gives the reason`);
      assert.deepEqual(health.models.includes(file.replace('.onnx', '')), servedBefore !== undefined, `${label}: served only if it was before`);
      const seen = clients.answers.length;
      await waitFor('answers meanwhile', () => (clients.answers.length >= seen + 16 ? true : undefined));
    }
  } finally {
    answers = await clients.stop();
  }
  assert.deepEqual(statusCounts(answers), { 200: answers.length }, 'the other models never failed');
  for (const answer of answers) assert.deepEqual(answer.bytes, reference.get(answer.url), `${answer.url}: changed bytes`);
  // Fixed: a valid file under the same name is picked up and the refusal clears.
  const fixed = buildFixtureGenerator({ weightSeed: 43 });
  writeFileSync(join(models.dir, file), fixed);
  const name = file.replace('.onnx', '');
  await waitFor(`${file} to be served once fixed`, async () => {
    const listed = (await getJson<{ models: { name: string; sha256: string }[] }>(`${server.url}/models`)).body.models.find((m) => m.name === name);
    return listed?.sha256 === sha256(fixed) ? true : undefined;
  });
  const health = (await getJson<Health>(`${server.url}/healthz`)).body;
  assert.ok(!health.refused.includes(file) && health.refusedReasons[file] === undefined, 'the refusal is cleared');
  assert.equal((await getBytes(`${server.url}/generate?model=${name}&seed=1`)).status, 200);
  console.log(JSON.stringify({ file, answers: answers.length, refusals: refusalsOf(file).length }));
}

test('bad files under a new name: refused with their reason on /healthz and in the log, the others keep serving; fixed, it is served', async () => {
  await dropUnderLoad('dropped.onnx', undefined);
  assert.match(await (await fetch(`${server.url}/metrics`)).text(), new RegExp(`^ganforge_model_reloads_total\\{model="dropped",result="refused"\\} ${BAD.length}$`, 'm'));
});

test('bad files over a served model under load: refused, the served version keeps serving its bytes; fixed, the new version is served', async () => {
  const served = (await getJson<{ models: { name: string; sha256: string }[] }>(`${server.url}/models`)).body.models.find((m) => m.name === 'beta')!.sha256;
  await dropUnderLoad('beta.onnx', served);
});
