// Style mixing through a real server on a loopback port (a cstylegan-lite export): /generate's mixSeed and mixFrom
// give the images of the exported graph run directly with mix_z drawn from mixSeed and mix_from = mixFrom, at ψ 1
// and 0.5; mixFrom = L is the unmixed image and 0 is mixSeed's own; mixed and unmixed requests in one burst answer
// as they do alone; the ETag tells mixes apart; bad values are refused naming the parameter. The page's Generator
// (onnxruntime-web) and eval's session runner send the same mix.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { sampleLatents } from '../../common/latents.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { generateImages } from '../../runtime/generator-runner.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { openSessionRunner } from '../../runtime/session-runner.ts';
import { loadGenerator } from '../../web/src/generator.ts';
import { exportStyleGenerator } from '../export/helpers.ts';
import { getBytes, getJson, getNpyImages, startTestServer, type ErrorBody, type TestServer } from './serve-fixtures.ts';

const CLASSES = ['a', 'b', 'c'];
const LATENT = 8;
const SHAPE: [number, number, number] = [28, 28, 1]; // base 7×7 and two doublings: L = 4 styles
const LAYERS = 4;
const PER = SHAPE[0] * SHAPE[1] * SHAPE[2];

/** The graph run directly: z from `seed`, mix_z from `mixSeed` (both untruncated: ψ is an input), mix_from = `from`. */
async function direct(bytes: Uint8Array, seed: number, label: number, n: number, psi: number, mixSeed: number, from: number): Promise<Float32Array> {
  const { session } = await createNodeSession(bytes, { device: 'cpu' });
  try {
    const out = await session.run({
      z: new ort.Tensor('float32', sampleLatents({ latentDim: LATENT, count: n, seed }), [n, LATENT]),
      label: new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(label)), [n]),
      truncation: new ort.Tensor('float32', new Float32Array(n).fill(psi), [n, 1]),
      mix_z: new ort.Tensor('float32', sampleLatents({ latentDim: LATENT, count: n, seed: mixSeed }), [n, LATENT]),
      mix_from: new ort.Tensor('float32', new Float32Array(n).fill(from), [n, 1]),
    });
    return out.image!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('style mixing behind the server', () => {
  let server: TestServer;
  let bytes: Uint8Array;
  before(async () => {
    bytes = await exportStyleGenerator({ imageShape: SHAPE, classes: CLASSES, latentDim: LATENT });
    server = await startTestServer({ style: bytes, plain: {} });
  });
  after(async () => {
    await server?.close();
    await tf.setBackend('cpu');
  });

  const npy = (query: string) => getNpyImages(`${server.base}/generate?model=style&format=npy&${query}`);

  it('/models says which models mix, with their layer count and default crossover', async () => {
    const { body } = await getJson<{ models: { name: string; styleMixing?: unknown }[] }>(`${server.base}/models`);
    assert.deepEqual(body.models.find((m) => m.name === 'style')!.styleMixing, { layers: LAYERS, defaultMixFrom: 2 });
    assert.equal(body.models.find((m) => m.name === 'plain')!.styleMixing, undefined);
  });

  it('mixSeed + mixFrom equal the graph run directly, at ψ 1 and 0.5; every crossover changes the image; L and 0 are the parents', async () => {
    for (const psi of [1, 0.5]) {
      const own = await npy(`class=1&n=3&seed=5&truncation=${psi}`);
      const other = await npy(`class=1&n=3&seed=77&truncation=${psi}`);
      for (let from = 0; from <= LAYERS; from++) {
        const served = await npy(`class=1&n=3&seed=5&truncation=${psi}&mixSeed=77&mixFrom=${from}`);
        const expected = await direct(bytes, 5, 1, 3, psi, 77, from);
        assert.ok(maxDiff(served, expected) <= 1e-6, `ψ ${psi}, mixFrom ${from}: served vs direct ${maxDiff(served, expected)}`);
        if (from === LAYERS) assert.deepEqual(served, own, 'mixFrom = L mixes nothing');
        else if (from === 0) assert.ok(maxDiff(served, other) <= 1e-6, 'mixFrom = 0 is mixSeed\'s own image');
        else assert.ok(maxDiff(served, own) > 1e-3 && maxDiff(served, other) > 1e-3, `mixFrom ${from} differs from both parents`);
      }
    }
    assert.deepEqual(await npy('class=1&n=3&seed=5&mixSeed=77'), await npy('class=1&n=3&seed=5&mixSeed=77&mixFrom=2'), 'mixFrom defaults to L/2');
  });

  it('mixed and unmixed requests sent together answer as they do alone', async () => {
    const queries = ['class=0&n=2&seed=3', 'class=0&n=2&seed=3&mixSeed=9&mixFrom=1', 'class=2&n=1&seed=4&mixSeed=10&mixFrom=3', 'class=0&n=2&seed=3&mixSeed=11', 'class=1&n=3&seed=8'];
    const alone: Float32Array[] = [];
    for (const q of queries) alone.push(await npy(q));
    for (let round = 0; round < 3; round++) {
      const together = await Promise.all(queries.map((q) => npy(q)));
      together.forEach((images, i) => assert.deepEqual(images, alone[i], `${queries[i]} in a burst`));
    }
  });

  it('the ETag tells mixes apart; the same mix gets the same tag', async () => {
    const etag = async (query: string) => (await getBytes(`${server.base}/generate?model=style&seed=5&${query}`)).headers.get('etag');
    const tags = [await etag(''), await etag('mixSeed=1'), await etag('mixSeed=2'), await etag('mixSeed=1&mixFrom=1')];
    assert.equal(new Set(tags).size, tags.length, `tags ${tags.join(', ')}`);
    assert.equal(await etag('mixSeed=1&mixFrom=2'), tags[1], 'the default crossover is normalized');
  });

  it('refuses what cannot mix, naming the parameter and what is allowed', async () => {
    const error = async (query: string) => {
      const { status, body } = await getJson<ErrorBody>(`${server.base}/generate?${query}`);
      assert.equal(status, 400, query);
      return body;
    };
    const plain = await error('model=plain&mixSeed=3');
    assert.equal(plain.parameter, 'mixSeed');
    assert.match(plain.message, /has no style-mixing inputs/);
    const alone = await error('model=style&mixFrom=1');
    assert.equal(alone.parameter, 'mixFrom');
    assert.match(alone.message, /give 'mixSeed' too/);
    const range = await error('model=style&mixSeed=3&mixFrom=5');
    assert.equal(range.parameter, 'mixFrom');
    assert.match(range.message, /'mixFrom' must be an integer in \[0, 4\]/);
    assert.equal((await error('model=style&mixSeed=-1')).parameter, 'mixSeed');
  });

  it('the page (web/src Generator on onnxruntime-web) and eval (session runner) mix as the server does', async () => {
    const served = await npy('class=2&n=4&seed=11&truncation=0.5&mixSeed=12&mixFrom=1');
    const page = await loadGenerator(bytes, { name: 'style', numThreads: 1 });
    try {
      const { data } = await page.generate({ class: 2, n: 4, seed: 11, truncation: 0.5, mixSeed: 12, mixFrom: 1 });
      assert.ok(maxDiff(data, served) <= 1e-5, `page vs server: ${maxDiff(data, served)}`);
      assert.throws(() => page.parseRequest({ mixSeed: 1, mixFrom: 9 }), /'mixFrom' must be an integer in \[0, 4\]/);
    } finally {
      await page.dispose();
    }
    const manifest = readManifest(bytes, 'style.onnx');
    const runner = await openSessionRunner({ models: [{ name: 'style', bytes, manifest }], intraOpNumThreads: 1 });
    try {
      const images = await generateImages(runner, { name: 'style', manifest }, { n: 4, seed: 11, labels: [2, 2, 2, 2], truncation: 0.5, truncationMode: 'psi', mix: { seed: 12, from: 1 } });
      assert.ok(maxDiff(images.data, served) <= 1e-6, `eval vs server: ${maxDiff(images.data, served)}`);
    } finally {
      await runner.close();
    }
    // The pool's own run() path (latents made by the caller, not rendered in the worker) takes the same mix.
    const viaRun = await generateImages(server.pool, { name: 'style', manifest }, { n: 4, seed: 11, labels: [2, 2, 2, 2], truncation: 0.5, truncationMode: 'psi', mix: { seed: 12, from: 1 } });
    assert.deepEqual(viaRun.data.subarray(0, 4 * PER), served);
  });
});
