// Checkpoint retention and integrity: the last N plus the best by an eval metric (best.json, lower or higher better,
// only evals measured at the checkpoint's own step), corrupt or half-written checkpoints detected on load (truncated or
// altered weights, bad JSON, a missing file, a temp folder, a short optimizer state) and skipped with a message naming
// them, never loaded; resume falls back past them; `ganforge export --best` exports the best one, and says what to do
// when a run has no eval metrics.

import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exportCommand } from '../../cli/export.ts';
import { GanforgeError } from '../../common/errors.ts';
import { exportRun } from '../../export/export-run.ts';
import { BEST_FILE, CHECKSUMS_FILE, loadCheckpoint, saveCheckpoint, type SkippedCheckpoint } from '../../train/checkpoint.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import type { EvalRecord, TrainingObserver } from '../../train/observers/observer.ts';
import { SIDECAR_FORMAT, type RunSidecar } from '../../train/run-sidecar.ts';
import { buildGanPair, trainGan, type TrainGanOptions } from '../../train/trainer.ts';
import { mnistSubset, tempDir, useBestBackend } from './helpers.ts';

const QUIET = { diagnoses: false, plots: false, progress: false } as Partial<TrainGanOptions>;
const SMALL = { generatorUnits: [32, 64], discriminatorUnits: [64, 32] };

function evalAt(step: number, frechetDistance: number, conditionalAccuracy: number | null = null): EvalRecord {
  return { step, samples: 10, frechetDistance, conditionalAccuracy, classCoverage: 1, diversity: 1, protocol: 'test' };
}

function sidecar(step: number, record?: EvalRecord): RunSidecar {
  return {
    format: SIDECAR_FORMAT, family: 'cgan', familyConfig: {}, dataset: 'mnist', classes: ['a', 'b', 'c'], imageShape: [6, 6, 1],
    valueRange: [-1, 1], latentDim: 5, step, epoch: 0, batchSize: 4, seed: 1, backend: tf.getBackend(), loss: 'non-saturating',
    learningRates: { generator: 2e-4, discriminator: 2e-4 }, command: 'test', durationSeconds: 1, savedAt: new Date(0).toISOString(), metrics: {},
    ...(record ? { eval: record } : {}),
  };
}

function pair() {
  const family = getFamily('cgan');
  return buildGanPair(family, resolveFamilyConfig(family, { generatorUnits: [8, 16] }), { imageShape: [6, 6, 1], numClasses: 3, latentDim: 5, seed: 1 });
}

async function pointer(runDir: string, file: string): Promise<{ checkpoint: string; step: number; value?: number; metric?: string }> {
  return JSON.parse(await readFile(join(runDir, file), 'utf8')) as { checkpoint: string; step: number };
}

describe('retention: last N and the best by eval metric', () => {
  before(async () => { await useBestBackend(); });

  it('keeps the newest N plus the lowest Fréchet distance; best.json names it; an eval of another step does not count', async () => {
    const runDir = await tempDir('best');
    const models = pair();
    const distances = [50, 30, 40, 45, 35, 60];
    for (const [i, fd] of distances.entries()) await saveCheckpoint({ runDir, ...models, sidecar: sidecar(i + 1, evalAt(i + 1, fd)), keep: 2 });
    assert.deepEqual((await readdir(join(runDir, 'checkpoints'))).sort(), ['step-000002', 'step-000005', 'step-000006']);
    assert.deepEqual(await pointer(runDir, BEST_FILE), { format: 'ganforge.best/1', checkpoint: 'checkpoints/step-000002', step: 2, metric: 'frechetDistance', value: 30, better: 'lower' });
    assert.equal((await pointer(runDir, 'latest.json')).step, 6);
    // Step 7 carries the eval of step 6 (its weights were not measured): no claim to be best, whatever the number.
    await saveCheckpoint({ runDir, ...models, sidecar: sidecar(7, evalAt(6, 1)), keep: 2 });
    assert.equal((await pointer(runDir, BEST_FILE)).step, 2);
    // A better one takes over, and the old best is pruned once outside the newest N.
    await saveCheckpoint({ runDir, ...models, sidecar: sidecar(8, evalAt(8, 20)), keep: 2 });
    assert.equal((await pointer(runDir, BEST_FILE)).step, 8);
    assert.deepEqual((await readdir(join(runDir, 'checkpoints'))).sort(), ['step-000007', 'step-000008']);
    assert.equal((await loadCheckpoint(runDir, { best: true })).sidecar.step, 8);
  });

  it('conditionalAccuracy: higher is better; keepBest null writes no best.json', async () => {
    const runDir = await tempDir('best-acc');
    const models = pair();
    for (const [i, acc] of [0.2, 0.7, 0.5].entries()) {
      await saveCheckpoint({ runDir, ...models, sidecar: sidecar(i + 1, evalAt(i + 1, 100, acc)), keep: 1, keepBest: 'conditionalAccuracy' });
    }
    const best = await pointer(runDir, BEST_FILE);
    assert.equal(best.step, 2);
    assert.equal(best.value, 0.7);
    assert.deepEqual((await readdir(join(runDir, 'checkpoints'))).sort(), ['step-000002', 'step-000003']);
    const none = await tempDir('best-none');
    await saveCheckpoint({ runDir: none, ...models, sidecar: sidecar(1, evalAt(1, 5)), keepBest: null });
    assert.ok(!(await readdir(none)).includes(BEST_FILE));
    await assert.rejects(saveCheckpoint({ runDir: none, ...models, sidecar: sidecar(2), keepBest: 'fid' as never }), /'keepBest' must be one of frechetDistance, conditionalAccuracy, classCoverage or null, got fid/);
  });
});

describe('integrity: a corrupt or half-written checkpoint is skipped, never loaded', () => {
  before(async () => { await useBestBackend(); });

  const corruptions: { name: string; reason: RegExp; apply: (dir: string) => Promise<void> }[] = [
    { name: 'truncated weights.bin', reason: /generator\/weights\.bin: \d+ bytes, \d+ were saved \(truncated or half-written\)/,
      apply: async (dir) => { const p = join(dir, 'generator', 'weights.bin'); await writeFile(p, (await readFile(p)).subarray(0, 100)); } },
    { name: 'one flipped byte (same size)', reason: /discriminator\/weights\.bin: SHA-256 differs from the one recorded at save/,
      apply: async (dir) => { const p = join(dir, 'discriminator', 'weights.bin'); const b = await readFile(p); b[7] = b[7]! ^ 0x40; await writeFile(p, b); } },
    { name: 'bad JSON in run.json (no checksums: an older checkpoint)', reason: /run\.json: cannot read the run sidecar/,
      apply: async (dir) => { await rm(join(dir, CHECKSUMS_FILE)); await writeFile(join(dir, 'run.json'), '{"format": "ganforge.run/1", "fam'); } },
    { name: 'bad JSON in model.json (no checksums)', reason: /generator\/model\.json: cannot read the model topology/,
      apply: async (dir) => { await rm(join(dir, CHECKSUMS_FILE)); await writeFile(join(dir, 'generator', 'model.json'), '{"modelTopology": {'); } },
    { name: 'weights shorter than model.json lists (no checksums)', reason: /generator: weights hold 12 bytes, model\.json lists \d+/,
      apply: async (dir) => { await rm(join(dir, CHECKSUMS_FILE)); await writeFile(join(dir, 'generator', 'weights.bin'), new Uint8Array(12)); } },
    { name: 'a missing file', reason: /incomplete \(no discriminator\/model\.json\)/,
      apply: async (dir) => { await rm(join(dir, 'discriminator', 'model.json')); } },
    { name: 'a bad checksums.json', reason: /checksums\.json: cannot read the checksums/,
      apply: async (dir) => { await writeFile(join(dir, CHECKSUMS_FILE), '[1, 2'); } },
  ];

  for (const corruption of corruptions) {
    it(`${corruption.name}: named, skipped, the previous checkpoint loaded`, async () => {
      const runDir = await tempDir('corrupt');
      const models = pair();
      for (const step of [1, 2, 3]) await saveCheckpoint({ runDir, ...models, sidecar: sidecar(step), keep: 0 });
      const bad = join(runDir, 'checkpoints', 'step-000003');
      await corruption.apply(bad);
      const messages: string[] = [];
      const loaded = await loadCheckpoint(runDir, { onSkip: (m) => messages.push(m) });
      assert.equal(loaded.sidecar.step, 2);
      assert.deepEqual(loaded.skipped.map((s: SkippedCheckpoint) => s.dir), [bad]);
      assert.equal(messages.length, 1);
      assert.ok(messages[0]!.startsWith(`skipping checkpoint ${bad}: `), messages[0]);
      assert.match(messages[0]!, corruption.reason);
      assert.match(messages[0]!, /falling back to the previous complete one$/);
      // Given directly, the corrupt folder is refused, not half-loaded.
      await assert.rejects(loadCheckpoint(bad), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_CHECKPOINT' && e.message.includes(bad));
      await rm(runDir, { recursive: true });
    });
  }

  it('a temp folder from a crash is named and ignored; when every checkpoint is corrupt the error lists them', async () => {
    const runDir = await tempDir('corrupt-all');
    const models = pair();
    await saveCheckpoint({ runDir, ...models, sidecar: sidecar(1) });
    const temp = join(runDir, 'checkpoints', '.tmp-step-000002-4242-deadbeef');
    await mkdir(join(temp, 'generator'), { recursive: true });
    await writeFile(join(temp, 'run.json'), JSON.stringify(sidecar(2)));
    const messages: string[] = [];
    assert.equal((await loadCheckpoint(runDir, { onSkip: (m) => messages.push(m) })).sidecar.step, 1);
    assert.deepEqual(messages, [`ignoring ${temp}: a save that did not finish (the process stopped while writing it)`]);
    const only = join(runDir, 'checkpoints', 'step-000001');
    await writeFile(join(only, 'generator', 'weights.bin'), '');
    await assert.rejects(loadCheckpoint(runDir, { onSkip: () => {} }), (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_CHECKPOINT' &&
      e.message.includes(`skipped: ${only} (${join(only, 'generator', 'weights.bin')}: 0 bytes`));
  });

  it('a truncated optimizer state is detected too (checksums removed, the manifest still catches it)', async () => {
    await useBestBackend();
    const data: Dataset = await mnistSubset(64);
    const runDir = await tempDir('corrupt-opt');
    await trainGan({ family: 'mlp', familyConfig: SMALL, dataset: data, steps: 4, batchSize: 16, latentDim: 8, checkpointEvery: 2, keepCheckpoints: 0, outDir: runDir, ...QUIET });
    const bad = join(runDir, 'checkpoints', 'step-000004');
    await rm(join(bad, CHECKSUMS_FILE));
    const p = join(bad, 'optimizer', 'weights.bin');
    await writeFile(p, (await readFile(p)).subarray(0, 64));
    const messages: string[] = [];
    const loaded = await loadCheckpoint(runDir, { onSkip: (m) => messages.push(m) });
    assert.equal(loaded.sidecar.step, 2);
    assert.ok(loaded.optimizerState !== null && loaded.optimizerState.manifest.optimizer === 'adam');
    assert.match(messages[0]!, /optimizer\/weights\.bin: holds 64 bytes, state\.json lists \d+/);
  });

  it('--resume falls back past a corrupt newest checkpoint and trains on from the previous one', async () => {
    const data: Dataset = await mnistSubset(256);
    const runDir = await tempDir('corrupt-resume');
    const options = { family: 'mlp', familyConfig: SMALL, dataset: data, batchSize: 16, latentDim: 8, checkpointEvery: 4, keepCheckpoints: 0, outDir: runDir, ...QUIET } as TrainGanOptions;
    await trainGan({ ...options, steps: 12 });
    const bad = join(runDir, 'checkpoints', 'step-000012');
    await writeFile(join(bad, 'discriminator', 'weights.bin'), 'half');
    const seen: number[] = [];
    const resumed = await trainGan({ ...options, steps: 14, resume: true, onStep: (m) => seen.push(m.step) });
    assert.deepEqual(seen, [9, 10, 11, 12, 13, 14]);
    assert.equal(resumed.resumeNotices?.length, 1);
    assert.match(resumed.resumeNotices[0]!, new RegExp(`^skipping checkpoint ${bad}: .*discriminator/weights\\.bin: 4 bytes`));
    // The retrained step 12 replaced the corrupt folder whole.
    assert.equal((await loadCheckpoint(bad)).sidecar.step, 12);
  });
});

describe('ganforge export --best', () => {
  before(async () => { await useBestBackend(); });

  it('exports the checkpoint best.json names (evals recorded during training), and says --eval-every when there are none', async () => {
    const data: Dataset = await mnistSubset(256);
    const runDir = await tempDir('export-best');
    // An observer that records the eval numbers given here at steps 4, 8, 12, as --eval-every records the judge's.
    const distances: Record<number, number> = { 4: 20, 8: 10, 12: 15 };
    const recorder: TrainingObserver = {
      name: 'test-evals',
      onStep(m, run) {
        const fd = distances[m.step];
        if (fd === undefined) return;
        run.recordEval(evalAt(m.step, fd));
        run.requestCheckpoint();
      },
    };
    await trainGan({ family: 'mlp', familyConfig: SMALL, dataset: data, steps: 14, batchSize: 16, latentDim: 8, keepCheckpoints: 1, outDir: runDir, observers: [recorder], ...QUIET });
    assert.deepEqual((await readdir(join(runDir, 'checkpoints'))).sort(), ['step-000008', 'step-000014'], 'the newest and the best');
    assert.equal((await pointer(runDir, BEST_FILE)).step, 8);

    const out = join(runDir, 'exported', 'best.onnx');
    const logs: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => { logs.push(args.join(' ')); };
    let code: number;
    try {
      code = await exportCommand.run([runDir, '--out', out, '--best', '--samples', '16']);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    assert.ok(logs.some((l) => l === 'best checkpoint: step 8'), logs.join('\n'));
    const readable = JSON.parse(await readFile(join(runDir, 'exported', 'best.json'), 'utf8')) as { source: { step: number; chosenBy: unknown }; manifest: { training: { steps: number } } };
    assert.equal(readable.source.step, 8);
    assert.equal(readable.manifest.training.steps, 8);
    assert.deepEqual(readable.source.chosenBy, { metric: 'frechetDistance', value: 10, better: 'lower' });
    // Without --best: the newest.
    assert.equal((await exportRun({ runDir, outPath: join(runDir, 'exported', 'latest.onnx'), samples: 16 })).manifest.training.steps, 14);

    const plain = await tempDir('export-nobest');
    await trainGan({ family: 'mlp', familyConfig: SMALL, dataset: data, steps: 2, batchSize: 16, latentDim: 8, outDir: plain, ...QUIET });
    await assert.rejects(exportRun({ runDir: plain, outPath: join(plain, 'x.onnx'), best: true }),
      (e: unknown) => e instanceof GanforgeError && e.code === 'INVALID_CHECKPOINT' && /no best\.json: the run has no eval metrics yet.*--eval-every N/.test(e.message));
  });
});
