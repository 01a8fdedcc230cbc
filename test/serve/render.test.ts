// Rendering in the worker (pool.render: latents drawn from the seed, inference, encoding, all off the HTTP thread) must
// give byte for byte what the main-thread path gives (generateImages → encodeImages), alone or merged into a batch
// with other requests, raw ones included.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OUTPUT_FORMATS, type GenerateParams } from '../../common/generate-params.ts';
import { sampleLatents } from '../../common/latents.ts';
import { generateImages, type GeneratorRunner } from '../../runtime/generator-runner.ts';
import { encodeImages, generateEncoded } from '../../serve/generate.ts';
import { InferencePool } from '../../serve/inference-pool.ts';
import { DIGIT_CLASSES, poolModel } from './serve-fixtures.ts';

const plain = poolModel('plain', { weightSeed: 4 });
const digits = poolModel('digits', { classes: DIGIT_CLASSES, weightSeed: 2 });
let pool: InferencePool;
/** The same pool seen as a runner without render(): generateEncoded then takes the main-thread path. */
let mainThreadOnly: GeneratorRunner;

before(async () => {
  // Every batch measures as long on this clock (a second per read): requests queued behind the first always merge.
  let ticks = 0;
  pool = await InferencePool.start({ models: [plain, digits], device: 'cpu', workers: 1, clock: () => (ticks += 1_000) });
  mainThreadOnly = { run: (model, input, options) => pool.run(model, input, options) };
});
after(() => pool.close());

const requests: { model: typeof plain; params: GenerateParams }[] = [
  { model: plain, params: { n: 1, seed: 7, labels: null, truncation: 1, truncationMode: 'psi' } },
  { model: plain, params: { n: 5, seed: 4_000_000_000, labels: null, truncation: 0.5, truncationMode: 'resample' } },
  { model: digits, params: { n: 4, seed: 1, labels: [0, 1, 2, 0], truncation: 0.7, truncationMode: 'psi' } },
  { model: digits, params: { n: 1, seed: 99, labels: [2], truncation: 1, truncationMode: 'psi' } },
];

test('every format: the worker renders exactly the bytes the main thread would', async () => {
  for (const format of OUTPUT_FORMATS) {
    for (const { model, params } of requests) {
      const inWorker = await generateEncoded(pool, model, params, format);
      const onMainThread = await generateEncoded(mainThreadOnly, model, params, format);
      const what = `${model.name} ${JSON.stringify(params)} ${format}`;
      assert.equal(inWorker.contentType, onMainThread.contentType, what);
      assert.deepEqual(Buffer.from(inWorker.body), Buffer.from(onMainThread.body), what);
    }
  }
});

test('merged into one batch with other renders and raw runs, each request still gets its solo bytes', async () => {
  const solo = await Promise.all(requests.map(async ({ model, params }) => Buffer.from((await generateEncoded(mainThreadOnly, model, params, 'npy')).body)));
  const batchesBefore = pool.stats().batches;
  // One worker: while the first batch runs, the rest queue and are merged per model.
  const rounds = 6;
  const raw = sampleLatents({ latentDim: plain.manifest.latentDim, count: 3, seed: 5 });
  const rawSolo = await pool.run('plain', { latent: raw, labels: null, count: 3 });
  const concurrent = await Promise.all(
    Array.from({ length: rounds }, () => [
      ...requests.map(({ model, params }) => generateEncoded(pool, model, params, 'npy').then((e) => Buffer.from(e.body))),
      pool.run('plain', { latent: raw, labels: null, count: 3 }).then((o) => Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength)),
    ]).flat(),
  );
  const stats = pool.stats();
  assert.ok(stats.batches - batchesBefore < rounds * (requests.length + 1), 'some requests were merged into a shared batch');
  for (let r = 0; r < rounds; r++) {
    const row = concurrent.slice(r * (requests.length + 1), (r + 1) * (requests.length + 1));
    requests.forEach((_, i) => assert.deepEqual(row[i], solo[i], `round ${r} request ${i}`));
    assert.deepEqual(row[requests.length], Buffer.from(rawSolo.data.buffer, rawSolo.data.byteOffset, rawSolo.data.byteLength), `round ${r} raw run`);
  }
});

test('PNG from the worker decodes to the pixels of the JSON values', async () => {
  const params = requests[2]!.params;
  const images = await generateImages(pool, digits, params);
  const fromWorker = await generateEncoded(pool, digits, params, 'png');
  assert.deepEqual(Buffer.from(fromWorker.body), Buffer.from(encodeImages(images, 'png').body));
});

test('render refuses what run refuses: labels for an unconditional model, a missing model, a bad count', async () => {
  await assert.rejects(pool.render('plain', { count: 1, seed: 1, truncation: 1, truncationMode: 'psi', labels: [0], format: 'png' }), /needs no labels/);
  await assert.rejects(pool.render('digits', { count: 2, seed: 1, truncation: 1, truncationMode: 'psi', labels: [0], format: 'png' }), /needs 2 labels/);
  await assert.rejects(pool.render('nope', { count: 1, seed: 1, truncation: 1, truncationMode: 'psi', labels: null, format: 'png' }), /unknown model 'nope'/);
  await assert.rejects(pool.render('plain', { count: 0, seed: 1, truncation: 1, truncationMode: 'psi', labels: null, format: 'png' }), /'count' must be a positive integer/);
});
