// Loading a models folder: good files load with their manifest, version hash and provider; every kind of bad file is
// refused with a reason while the rest still load.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { probeCudaProvider } from '../../runtime/cuda-probe.ts';
import { GanforgeError } from '../../common/errors.ts';
import type { LogEntry } from '../../serve/logger.ts';
import { LiveModelRepository, loadModelRepository, type ModelRepository } from '../../serve/model-repository.ts';
import { buildFixtureGenerator, writeFixtureModels } from '../fixtures/onnx-fixtures.ts';
import { DIGIT_CLASSES } from './serve-fixtures.ts';

let dir: string;
let outside: string;
let repository: ModelRepository;
const logs: LogEntry[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ganforge-repo-'));
  outside = mkdtempSync(join(tmpdir(), 'ganforge-outside-'));
  writeFixtureModels(dir, {
    default: {},
    digits: { classes: DIGIT_CLASSES },
    'no-manifest': { manifest: false },
    'wrong-latent': { latentDim: 8, manifest: { latentDim: 9 } },
    'wrong-output': { manifest: { output: 'missing' } },
    'bad name': {},
    '.hidden': {},
  });
  writeFileSync(join(dir, 'corrupt.onnx'), Uint8Array.from([0x08, 0x08, 0x12, 0xff, 0xff]));
  writeFileSync(join(dir, 'notes.txt'), 'not a model');
  writeFileSync(join(outside, 'secret.onnx'), buildFixtureGenerator({}));
  symlinkSync(join(outside, 'secret.onnx'), join(dir, 'escape.onnx'));
  repository = await loadModelRepository({ dir, device: 'cpu', logger: (entry) => logs.push(entry) });
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

test('good models load; every bad one is refused with a reason', () => {
  assert.deepEqual([...repository.models.keys()], ['default', 'digits']);
  const reasons = Object.fromEntries(repository.refused.map((r) => [r.file, r.reason]));
  assert.deepEqual(Object.keys(reasons).sort(), ['.hidden.onnx', 'bad name.onnx', 'corrupt.onnx', 'escape.onnx', 'no-manifest.onnx', 'wrong-latent.onnx', 'wrong-output.onnx']);
  assert.match(reasons['no-manifest.onnx']!, /no 'ganforge\.manifest' metadata/);
  assert.match(reasons['corrupt.onnx']!, /not a readable ONNX model|onnxruntime cannot load/);
  assert.match(reasons['wrong-latent.onnx']!, /\[batch, 9\]/);
  assert.match(reasons['wrong-output.onnx']!, /'missing'/);
  assert.match(reasons['bad name.onnx']!, /model names must match/);
  assert.match(reasons['.hidden.onnx']!, /model names must match/);
  assert.match(reasons['escape.onnx']!, /outside the models folder/);
  const refusedLogs = logs.filter((e) => e.event === 'model-refused').map((e) => e.file);
  assert.deepEqual(refusedLogs.sort(), Object.keys(reasons).sort());
});

test('a loaded model records manifest, size, mtime, sha256 and provider', () => {
  const digits = repository.models.get('digits')!;
  const bytes = readFileSync(join(dir, 'digits.onnx'));
  assert.deepEqual(digits.manifest.classes, DIGIT_CLASSES);
  assert.equal(digits.size, bytes.length);
  assert.equal(digits.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.notEqual(digits.sha256, repository.models.get('default')!.sha256);
  assert.ok(digits.mtime instanceof Date && digits.mtime.getTime() > 0);
  assert.equal(digits.provider, 'cpu');
  assert.equal(digits.fallbackReason, undefined);
  assert.deepEqual(Buffer.from(digits.bytes), bytes);
});

test("the default model is 'default' when present, else the first by name", async () => {
  assert.equal(repository.defaultModel?.name, 'default');
  const other = mkdtempSync(join(tmpdir(), 'ganforge-repo-'));
  try {
    writeFixtureModels(other, { zeta: {}, alpha: {} });
    const loaded = await loadModelRepository({ dir: other, device: 'cpu' });
    assert.equal(loaded.defaultModel?.name, 'alpha');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('without CUDA: auto loads on CPU with the reason, cuda is refused once with it', { skip: probeCudaProvider().available && 'this machine has CUDA' }, async () => {
  const only = mkdtempSync(join(tmpdir(), 'ganforge-repo-'));
  try {
    writeFixtureModels(only, { default: {} });
    const loaded = await loadModelRepository({ dir: only, device: 'auto' });
    const model = loaded.models.get('default')!;
    assert.equal(model.provider, 'cpu');
    assert.match(model.fallbackReason ?? '', /CUDA provider is not installed/);
    await assert.rejects(loadModelRepository({ dir: only, device: 'cuda' }), (error: unknown) =>
      error instanceof GanforgeError && error.code === 'INVALID_PARAMETER' && /'device' is 'cuda' but CUDA cannot run here/.test(error.message));
  } finally {
    rmSync(only, { recursive: true, force: true });
  }
});

test('a missing folder is NOT_FOUND naming it', async () => {
  await assert.rejects(loadModelRepository({ dir: join(dir, 'nope') }), (error: unknown) =>
    error instanceof GanforgeError && error.code === 'NOT_FOUND' && error.message.includes('nope'));
});

test('a live repository changes by swapping in new collections: name order kept, default falls back, one refusal per file', () => {
  const loaded = repository.models.get('default')!;
  const live = new LiveModelRepository(dir);
  const model = (name: string) => ({ ...loaded, name });
  live.put(model('zeta'));
  live.put(model('alpha'));
  live.put(model('default'));
  assert.deepEqual([...live.models.keys()], ['alpha', 'default', 'zeta']);
  assert.equal(live.defaultModel?.name, 'default');
  const snapshot = live.models;
  live.refuse('alpha.onnx', 'first reason');
  live.refuse('alpha.onnx', 'second reason');
  live.refuse('broken.onnx', 'bad');
  assert.deepEqual(live.refused, [{ file: 'alpha.onnx', reason: 'second reason' }, { file: 'broken.onnx', reason: 'bad' }]);
  assert.equal(live.remove('default')?.name, 'default');
  assert.equal(live.remove('default'), undefined);
  assert.equal(live.defaultModel?.name, 'alpha', "without 'default', the first by name");
  assert.deepEqual([...snapshot.keys()], ['alpha', 'default', 'zeta'], 'a map already handed out is not changed');
  live.put(model('alpha'));
  assert.deepEqual(live.refused.map((r) => r.file), ['broken.onnx'], 'loading a file clears its refusal');
  live.accept('broken.onnx');
  assert.deepEqual(live.refused, []);
});
