// A w-space model (cstylegan-lite) through a real server on a loopback port: /models says which truncation convention
// each model follows, and /generate sends `truncation` to a w-space model as ψ (z drawn untruncated) instead of
// shrinking z, so the served images equal the exported graph run directly with ψ; ψ = 0 gives every seed the mean-w
// image of its class; requests with different ψ merged into one batch answer as they would alone.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { sampleLatents } from '../../common/latents.ts';
import { readManifest } from '../../common/onnx-metadata.ts';
import { generateImages } from '../../runtime/generator-runner.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { openSessionRunner } from '../../runtime/session-runner.ts';
import { loadGenerator } from '../../web/src/generator.ts';
import { exportStyleGenerator, useCpuBackend } from '../export/helpers.ts';
import { waitFor } from './load-clients.ts';
import { getJson, getNpyImages, startTestServer, type ErrorBody, type TestServer } from './serve-fixtures.ts';

const CLASSES = ['a', 'b', 'c'];
const LATENT = 8;
const SHAPE: [number, number, number] = [8, 8, 1];

/** The graph run directly: z from the seed with no truncation, ψ fed as the input. */
async function direct(bytes: Uint8Array, seed: number, labels: number[], psi: number): Promise<Float32Array> {
  const { session } = await createNodeSession(bytes, { device: 'cpu' });
  try {
    const n = labels.length;
    const z = sampleLatents({ latentDim: LATENT, count: n, seed });
    const out = await session.run({
      z: new ort.Tensor('float32', z, [n, LATENT]),
      label: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [n]),
      truncation: new ort.Tensor('float32', new Float32Array(n).fill(psi), [n, 1]),
      mix_z: new ort.Tensor('float32', z, [n, LATENT]),
      mix_from: new ort.Tensor('float32', new Float32Array(n).fill(1e3), [n, 1]), // past the last layer: no mixing
    });
    return out.image!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('a w-space model behind the server', () => {
  let server: TestServer;
  let bytes: Uint8Array;
  before(async () => {
    await useCpuBackend();
    bytes = await exportStyleGenerator({ imageShape: SHAPE, classes: CLASSES, latentDim: LATENT, weightScale: 0.3 });
    server = await startTestServer({ style: bytes, plain: {} });
  });
  after(async () => {
    await server?.close();
    await tf.setBackend('cpu');
  });

  const npy = (query: string) => getNpyImages(`${server.base}/generate?model=style&format=npy&${query}`);

  it('/models shows each model\'s truncation convention', async () => {
    const { body } = await getJson<{ models: { name: string; truncation: unknown; truncationModes: string[]; noise?: string }[] }>(`${server.base}/models`);
    const style = body.models.find((m) => m.name === 'style')!;
    const plain = body.models.find((m) => m.name === 'plain')!;
    assert.deepEqual(style.truncation, { kind: 'w-space', input: 'truncation' });
    assert.deepEqual(style.truncationModes, ['psi']);
    assert.equal(style.noise, 'zeroed');
    assert.deepEqual(plain.truncation, { kind: 'latent' });
    assert.equal(plain.noise, undefined);
  });

  it('truncation=0.5 reaches the graph as ψ with untruncated z (not as a shrunk z)', async () => {
    const served = await npy('class=1&n=4&seed=11&truncation=0.5');
    const labels = [1, 1, 1, 1];
    const expected = await direct(bytes, 11, labels, 0.5);
    assert.ok(maxDiff(served, expected) <= 1e-6, `served vs direct ψ = 0.5: ${maxDiff(served, expected)}`);
    // What the old z-space path would have served: z shrunk by 0.5, ψ = 1. It must differ, or the test proves nothing.
    const { session } = await createNodeSession(bytes, { device: 'cpu' });
    const shrunkZ = sampleLatents({ latentDim: LATENT, count: 4, seed: 11, truncation: 0.5 });
    const shrunk = await session.run({
      z: new ort.Tensor('float32', shrunkZ, [4, LATENT]),
      label: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n]), [4]),
      truncation: new ort.Tensor('float32', new Float32Array(4).fill(1), [4, 1]),
      mix_z: new ort.Tensor('float32', shrunkZ, [4, LATENT]),
      mix_from: new ort.Tensor('float32', new Float32Array(4).fill(1e3), [4, 1]),
    });
    await session.release();
    assert.ok(maxDiff(served, shrunk.image!.data as Float32Array) > 1e-3, 'ψ in w space differs from shrinking z');
    const untruncated = await npy('class=1&n=4&seed=11');
    assert.ok(maxDiff(untruncated, await direct(bytes, 11, labels, 1)) <= 1e-6, 'no truncation = ψ 1');
    assert.ok(maxDiff(untruncated, served) > 1e-3, 'ψ 0.5 changes the images');
  });

  it('truncation=0 (allowed for w-space) gives every seed its class\'s mean-w image', async () => {
    const per = SHAPE[0] * SHAPE[1] * SHAPE[2];
    const a = await npy('class=2&n=3&seed=1&truncation=0');
    const b = await npy('class=2&n=2&seed=999&truncation=0');
    for (let k = 1; k < 3; k++) assert.ok(maxDiff(a.subarray(0, per), a.subarray(k * per, (k + 1) * per)) <= 1e-6, `image ${k} equals image 0`);
    assert.ok(maxDiff(a.subarray(0, per), b.subarray(0, per)) <= 1e-6, 'another seed, same mean-w image');
    const other = await npy('class=0&n=1&seed=1&truncation=0');
    assert.ok(maxDiff(a.subarray(0, per), other) > 1e-3, 'each class has its own mean w');
  });

  it('refuses the z-only resample mode for a w-space model, naming the modes it has', async () => {
    const { status, body } = await getJson<ErrorBody>(`${server.base}/generate?model=style&truncation=0.5&truncationMode=resample`);
    assert.equal(status, 400);
    assert.equal(body.parameter, 'truncationMode');
    assert.match(body.message, /supports truncationMode psi/);
  });

  it('the page (web/src Generator on onnxruntime-web) and eval (session runner) send ψ the same way as the server', async () => {
    const served = await npy('class=1&n=4&seed=11&truncation=0.5');
    const page = await loadGenerator(bytes, { name: 'style', numThreads: 1 });
    try {
      const { data } = await page.generate({ class: 1, n: 4, seed: 11, truncation: 0.5 });
      assert.ok(maxDiff(data, served) <= 1e-5, `page vs server: ${maxDiff(data, served)}`);
    } finally {
      await page.dispose();
    }
    const manifest = readManifest(bytes, 'style.onnx');
    const runner = await openSessionRunner({ models: [{ name: 'style', bytes, manifest }], intraOpNumThreads: 1 });
    try {
      const images = await generateImages(runner, { name: 'style', manifest }, { n: 4, seed: 11, labels: [1, 1, 1, 1], truncation: 0.5, truncationMode: 'psi' });
      assert.ok(maxDiff(images.data, served) <= 1e-6, `eval vs server: ${maxDiff(images.data, served)}`);
    } finally {
      await runner.close();
    }
  });

  it('requests with different ψ merged into one batch answer as they would alone', async () => {
    const queries = [0.3, 0.9, 0.6, 1].map((t, i) => `class=${i % 3}&n=2&seed=${40 + i}&truncation=${t}`);
    const alone: Float32Array[] = [];
    for (const q of queries) alone.push(await npy(q));
    // The only worker is stalled with a blocker request inside it; the four ψ requests then either queue, or (when
    // this model's measured batches are short enough for pipelining, serve/batching-policy.ts) the first of them waits
    // in the worker's message queue as its second batch. Either way at least three queue and go as one batch on
    // release, however fast this machine runs: the wait is on the pool's state, never on a clock.
    const mergedBefore = server.pool.stats().mergedRequests;
    const release = server.pool.stallWorker(0);
    try {
      const blocker = npy('class=0&n=1&seed=1&truncation=1');
      await waitFor('the blocker inside the stalled worker', () => server.pool.stats().heldBatches === 1 || undefined);
      const together = Promise.all(queries.map((q) => npy(q)));
      await waitFor('the ψ requests queued or held', () => {
        const { queuedRequests, heldBatches } = server.pool.stats();
        return queuedRequests === queries.length || (queuedRequests === queries.length - 1 && heldBatches === 2) || undefined;
      });
      const pipelined = server.pool.stats().heldBatches === 2 ? 1 : 0;
      release();
      await blocker;
      (await together).forEach((t, i) => assert.ok(maxDiff(t, alone[i]!) <= 1e-6, `request ${i}: ${maxDiff(t, alone[i]!)}`));
      assert.equal(server.pool.stats().mergedRequests - mergedBefore, queries.length - pipelined - 1, 'the queued requests with different ψ shared one batch');
    } finally {
      release(); // also on failure: a stalled worker would hold the pool's close() (and this file) forever
    }
  });
});

