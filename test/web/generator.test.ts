// The browser library against the real onnxruntime-web (its wasm build runs in Node), checked against the real
// onnxruntime-node on the same latents: the page and the server must agree on every value.

import assert from 'node:assert/strict';
import { decode } from 'fast-png';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GanforgeError, InvalidParameterError } from '../../common/errors.ts';
import { sampleLatents } from '../../common/latents.ts';
import { encodeImages } from '../../serve/generate.ts';
import { createNodeSession, ort as ortNode } from '../../runtime/ort-node.ts';
import { buildFixtureGenerator } from '../fixtures/onnx-fixtures.ts';
import { toPngBytes } from '../../web/src/draw.ts';
import { loadGenerator, modelNameFromUrl, type Generator } from '../../web/src/generator.ts';

const CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const conditionalBytes = buildFixtureGenerator({ classes: CLASSES, latentDim: 8, imageShape: [6, 5, 1] });

/** The same request run through onnxruntime-node, the way the server's workers run it. */
async function nodeReference(latent: Float32Array, labels: number[], count: number): Promise<Float32Array> {
  const { session } = await createNodeSession(conditionalBytes, { device: 'cpu' });
  try {
    const out = await session.run({
      z: new ortNode.Tensor('float32', latent, [count, 8]),
      label: new ortNode.Tensor('int64', BigInt64Array.from(labels, (l) => BigInt(l)), [count]),
    });
    return out.image!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('loadGenerator (onnxruntime-web wasm in Node)', () => {
  let generator: Generator;
  before(async () => {
    generator = await loadGenerator(conditionalBytes, { name: 'digits', numThreads: 1 });
  });
  after(async () => generator.dispose());

  it('reports the manifest and the backend that runs', () => {
    const { info } = generator;
    assert.equal(info.name, 'digits');
    assert.equal(info.family, 'cgan');
    assert.deepEqual(info.classes, CLASSES);
    assert.equal(info.latentDim, 8);
    assert.deepEqual(info.imageShape, [6, 5, 1]);
    assert.deepEqual(info.valueRange, [-1, 1]);
    assert.equal(info.backend, 'wasm');
    assert.equal(info.threads, 1);
    assert.match(info.fallbackReason ?? '', /WebGPU/);
  });

  it('generates what onnxruntime-node gives for the same seeded latents (class 7, truncation 0.7, seed 1)', async () => {
    const result = await generator.generate({ class: 7, truncation: 0.7, seed: 1, n: 16 });
    assert.deepEqual(result.shape, [16, 6, 5, 1]);
    assert.deepEqual(result.labels, new Array<number>(16).fill(7));
    assert.equal(result.seed, 1);
    assert.equal(result.model, 'digits');
    const latent = sampleLatents({ latentDim: 8, count: 16, seed: 1, truncation: 0.7, truncationMode: 'psi' });
    const expected = await nodeReference(latent, new Array<number>(16).fill(7), 16);
    assert.ok(maxAbsDiff(result.data, expected) < 1e-5, `max diff ${maxAbsDiff(result.data, expected)}`);
    // Different class, truncation or seed must change the output, or the comparison above proves nothing.
    const other = await generator.generate({ class: 3, truncation: 0.7, seed: 1, n: 16 });
    assert.ok(maxAbsDiff(other.data, result.data) > 1e-3);
  });

  it('cycles classes without a class, and accepts class names like the server', async () => {
    const cycled = await generator.generate({ seed: 5, n: 12 });
    assert.deepEqual(cycled.labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    const byName = await generator.generate({ seed: 5, n: 2, class: 'Seven' });
    const byIndex = await generator.generate({ seed: 5, n: 2, class: 7 });
    assert.deepEqual(byName.data, byIndex.data);
  });

  it('draws a PNG with the pixels the server would send for the same values', async () => {
    const result = await generator.generate({ class: 7, truncation: 0.7, seed: 1, n: 4 });
    const server = decode(encodeImages({ ...result, model: 'digits' }, 'png').body);
    const page = decode(toPngBytes(result)); // compressed by fflate, the server's by node:zlib: compare what they show
    assert.deepEqual([page.width, page.height, page.channels], [server.width, server.height, server.channels]);
    assert.deepEqual(page.data, server.data);
  });

  it('rejects bad requests with the server’s messages, and keeps working after', async () => {
    assert.throws(() => generator.parseRequest({ n: 65 }), (e: unknown) => e instanceof InvalidParameterError && e.parameter === 'n' && /'n' must be an integer in \[1, 64\], got 65/.test(e.message));
    await assert.rejects(generator.generate({ class: 12 }), /'class' must be an integer in \[0, 9\].*got 12/);
    await assert.rejects(generator.generate({ truncation: 0 }), (e: unknown) => e instanceof InvalidParameterError && e.parameter === 'truncation');
    const ok = await generator.generate({ seed: 2, n: 1 });
    assert.equal(ok.data.length, 30);
  });

  it('interpolates from one seed to another, ending exactly on both seeds’ images', async () => {
    const frames = await generator.interpolate({ from: 1, to: 2, frames: 5, class: 7, truncation: 0.7 });
    assert.deepEqual(frames.shape, [5, 6, 5, 1]);
    const first = await generator.generate({ seed: 1, n: 1, class: 7, truncation: 0.7 });
    const last = await generator.generate({ seed: 2, n: 1, class: 7, truncation: 0.7 });
    assert.ok(maxAbsDiff(frames.data.subarray(0, 30), first.data) < 1e-6);
    assert.ok(maxAbsDiff(frames.data.subarray(120, 150), last.data) < 1e-6);
    assert.ok(maxAbsDiff(frames.data.subarray(60, 90), first.data) > 1e-3, 'the middle frame differs from the ends');
    await assert.rejects(generator.interpolate({ from: 1, to: 2, frames: 1 }), (e: unknown) => e instanceof InvalidParameterError && e.parameter === 'frames');
  });

  it('serialises concurrent calls on the one session', async () => {
    const results = await Promise.all([1, 2, 3, 4].map((seed) => generator.generate({ seed, n: 3, class: 1 })));
    const again = await generator.generate({ seed: 3, n: 3, class: 1 });
    assert.deepEqual(results[2]!.data, again.data);
  });
});

describe('loadGenerator over HTTP', () => {
  let server: Server;
  let base: string;
  before(async () => {
    const unconditional = buildFixtureGenerator({ latentDim: 4 });
    server = createServer((req, res) => {
      if (req.url === '/models/plain.onnx') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': unconditional.length });
        res.end(unconditional);
      } else if (req.url === '/models/bad.onnx') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(buildFixtureGenerator({ manifest: false }));
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'UNKNOWN_MODEL', message: 'unknown model "nope"; available: plain' }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fetches with progress and names the model after the file', async () => {
    const progress: { loaded: number; total: number | null }[] = [];
    const generator = await loadGenerator(`${base}/models/plain.onnx`, { onProgress: (p) => progress.push(p) });
    try {
      assert.equal(generator.info.name, 'plain');
      assert.equal(generator.info.classes, null);
      const last = progress.at(-1)!;
      assert.ok(last.total !== null && last.total > 0 && last.loaded === last.total);
      const result = await generator.generate({ seed: 3, n: 2 });
      assert.equal(result.labels, null);
      await assert.rejects(generator.generate({ class: 1 }), /unconditional/);
    } finally {
      await generator.dispose();
    }
  });

  it('fails with NOT_FOUND and the server’s message for a missing model', async () => {
    await assert.rejects(loadGenerator(`${base}/models/nope.onnx`), (e: unknown) =>
      e instanceof GanforgeError && e.code === 'NOT_FOUND' && /HTTP 404: unknown model "nope"/.test(e.message));
  });

  it('fails with INVALID_MODEL for an .onnx without a ganforge manifest', async () => {
    await assert.rejects(loadGenerator(`${base}/models/bad.onnx`), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_MODEL' && /manifest/.test(e.message));
  });

  it('names models from URLs', () => {
    assert.equal(modelNameFromUrl('/models/default.onnx?v=2'), 'default');
    assert.equal(modelNameFromUrl('https://x.test/a/b/mnist-cgan.onnx#frag'), 'mnist-cgan');
  });
});
