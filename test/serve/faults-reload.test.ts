// The served model file is replaced while 16 clients request it, on a real server on loopback (hot reload, 2
// workers): once by an atomic rename, once overwritten in place (same inode). The two versions have different weights,
// so each seed has two possible answers: every answer (npy, PNG grid, and the .onnx file itself) must be wholly one of
// them and match the version its ETag names, no request may fail, and requests that were queued or running when the
// new version went live must finish on the old one.
import assert from 'node:assert/strict';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogEntry } from '../../serve/logger.ts';
import { startServer, type RunningServer } from '../../serve/server.ts';
import { buildFixtureGenerator } from '../fixtures/onnx-fixtures.ts';
import { sha256, startClients, statusCounts, waitFor, type ClientAnswer } from './load-clients.ts';
import { getBytes, makeModelsDir } from './serve-fixtures.ts';

// A few ms per batch of 64: with 16 clients of n=16 the queue always holds work for the model being swapped.
const BUSY = { slowLayers: 4, slowWidth: 256 };
const OLD = buildFixtureGenerator({ ...BUSY, weightSeed: 12 });
const NEW = buildFixtureGenerator({ ...BUSY, weightSeed: 31 });
const VERSIONS = new Map([[sha256(OLD), 'old'], [sha256(NEW), 'new']]);
const SEEDS = 4;

let models: ReturnType<typeof makeModelsDir>;
let server: RunningServer | undefined;
const logs: LogEntry[] = [];
/** At each 'model-replaced' line (logged in the same turn as the switch): the clock, and whether the previous version still had requests queued or running. */
const swaps: { at: number; sha256: string; previousInFlight: boolean }[] = [];

before(async () => {
  models = makeModelsDir({ swapped: { ...BUSY, weightSeed: 12 }, steady: { weightSeed: 5 } });
  const logger = (entry: LogEntry) => {
    logs.push(entry);
    if (entry.event === 'model-replaced' && entry.model === 'swapped') {
      const previousInFlight = server!.pool.modelVersions().some((v) => v.name === 'swapped' && v.state === 'retiring');
      swaps.push({ at: performance.now(), sha256: String(entry.sha256), previousInFlight });
    }
  };
  server = await startServer({ modelsDir: models.dir, port: 0, device: 'cpu', workers: 2, logger, web: false, watch: { intervalMs: 100, settleMs: 50 } });
});

after(async () => {
  await server?.close();
  models.cleanup();
});

const path = () => join(models.dir, 'swapped.onnx');
const urls = (base: string) => [
  ...Array.from({ length: SEEDS }, (_, seed) => `${base}/generate?model=swapped&seed=${seed}&n=16&format=npy`),
  ...Array.from({ length: SEEDS }, (_, seed) => `${base}/generate?model=swapped&seed=${seed}&n=4`), // a PNG grid of 4
  `${base}/models/swapped.onnx`,
];

/** Each URL's bytes under the version now served, asked one at a time. */
async function referenceBytes(): Promise<Map<string, Uint8Array>> {
  const bytes = new Map<string, Uint8Array>();
  for (const url of urls(server!.url)) {
    const answer = await getBytes(url);
    assert.equal(answer.status, 200, url);
    bytes.set(url, answer.bytes);
  }
  return bytes;
}

const servedSha = async () => ((await (await fetch(`${server!.url}/models`)).json()) as { models: { name: string; sha256: string }[] }).models.find((m) => m.name === 'swapped')?.sha256;

/**
 * Replaces the file `swaps` times under 16 clients, alternating NEW and OLD, and checks every answer. The clients are
 * stopped only after each swap has been answered on for a while, so requests straddle every switch.
 */
async function replaceUnderLoad(write: (bytes: Uint8Array) => void, references: Map<string, Uint8Array>[]): Promise<ClientAnswer[]> {
  const list = urls(server!.url);
  const clients = startClients(16, (client, seq) => list[(client + seq) % list.length]!);
  const swapsFrom = swaps.length;
  let answers;
  try {
    await waitFor('steady load', () => (clients.answers.length >= 32 ? true : undefined));
    // Swapped until a switch found the old version still busy (the first one practically always does); bounded.
    for (let round = 0; round < 6; round++) {
      const next = round % 2 === 0 ? NEW : OLD;
      write(next);
      await waitFor(`swap ${round} to be served`, async () => ((await servedSha()) === sha256(next) ? true : undefined));
      const seen = clients.answers.length;
      await waitFor('answers after the swap', () => (clients.answers.length >= seen + 32 ? true : undefined));
      if (round % 2 === 1 && swaps.slice(swapsFrom).some((s) => s.previousInFlight)) break;
    }
  } finally {
    answers = await clients.stop();
  }
  assert.deepEqual(statusCounts(answers), { 200: answers.length }, 'no request failed');
  for (const answer of answers) {
    const etag = answer.headers.get('etag') ?? '';
    const matches = references.filter((r) => Buffer.from(r.get(answer.url)!).equals(answer.bytes));
    assert.equal(matches.length, 1, `${answer.url}: the answer is neither version's bytes (${answer.bytes.length} bytes)`);
    if (answer.url.endsWith('.onnx')) {
      assert.equal(etag, `"${sha256(answer.bytes)}"`, 'the model file matches its ETag');
      assert.ok(VERSIONS.has(sha256(answer.bytes)));
    } else {
      // The ETag of a seeded image names the model version: the same version's reference has the same tag.
      const version = references.indexOf(matches[0]!);
      assert.equal(etag, referenceTags[version]!.get(answer.url), `${answer.url}: bytes of one version, ETag of the other`);
    }
  }
  const mine = swaps.slice(swapsFrom);
  const straddling = mine.filter((s) => s.previousInFlight);
  assert.ok(straddling.length > 0, `no switch found the old version with requests in flight (${mine.length} switches)`);
  // A request still queued or running at a switch was bound to the version before it: it ends after the switch,
  // with the previous version's bytes.
  for (const swap of straddling) {
    const previous = swap.sha256 === sha256(NEW) ? 0 : 1;
    const finishedOnOld = answers.filter((a) => !a.url.endsWith('.onnx') && a.sentAt < swap.at && a.endedAt > swap.at && Buffer.from(references[previous]!.get(a.url)!).equals(a.bytes));
    assert.ok(finishedOnOld.length > 0, 'requests in flight at the switch finished on the old version');
  }
  console.log(JSON.stringify({ answers: answers.length, switches: mine.length, straddling: straddling.length, merged: server!.pool.stats().mergedRequests }));
  return answers;
}

const referenceTags: Map<string, string>[] = [];
let references: Map<string, Uint8Array>[] = [];

test('references: the two versions give different bytes for every request', async () => {
  const oldBytes = await referenceBytes();
  const oldTags = new Map<string, string>();
  for (const url of oldBytes.keys()) oldTags.set(url, (await fetch(url)).headers.get('etag') ?? '');
  writeFileSync(path(), NEW);
  await waitFor('the new version', async () => ((await servedSha()) === sha256(NEW) ? true : undefined));
  const newBytes = await referenceBytes();
  const newTags = new Map<string, string>();
  for (const url of newBytes.keys()) newTags.set(url, (await fetch(url)).headers.get('etag') ?? '');
  for (const url of oldBytes.keys()) {
    assert.ok(!Buffer.from(oldBytes.get(url)!).equals(newBytes.get(url)!), `${url} is the same under both versions`);
    assert.notEqual(oldTags.get(url), newTags.get(url), url);
  }
  references = [oldBytes, newBytes];
  referenceTags.push(oldTags, newTags);
  writeFileSync(path(), OLD);
  await waitFor('the old version back', async () => ((await servedSha()) === sha256(OLD) ? true : undefined));
});

test('atomic rename under 16 clients: no failure, no mixed answer, in-flight requests finish on the old version', async () => {
  let n = 0;
  await replaceUnderLoad((bytes) => {
    const temporary = join(models.dir, `.swapped-${n++}.partial`);
    writeFileSync(temporary, bytes);
    renameSync(temporary, path());
  }, references);
  assert.ok(!logs.some((e) => e.event === 'model-refused' && e.file === 'swapped.onnx'), 'an atomic rename is never seen half-written');
});

test('in-place overwrite (same inode) under 16 clients: no failure, no mixed answer, in-flight requests finish on the old version', async () => {
  const inode = statSync(path()).ino;
  await replaceUnderLoad((bytes) => writeFileSync(path(), bytes), references);
  assert.equal(statSync(path()).ino, inode, 'the file was overwritten in place');
  // The other model served throughout.
  assert.equal((await getBytes(`${server!.url}/generate?model=steady&seed=1`)).status, 200);
});
