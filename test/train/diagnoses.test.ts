// The diagnoses on real training: each warning provoked on purpose (a discriminator learning 50× faster than the
// generator, an unconstrained Wasserstein critic with a large learning rate, a generator made to ignore z), and a
// healthy run that raises nothing. Also the eval-every observer and the end-of-run summary of a real run.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../train/dataset/registry.ts';
import { getFamily, resolveFamilyConfig } from '../../train/models/registry.ts';
import { diagnosesObserver, sampleSpread } from '../../train/observers/diagnoses.ts';
import type { Diagnosis, RunView } from '../../train/observers/observer.ts';
import { formatRunSummary } from '../../train/run-summary.ts';
import { trainGan, type StepMetrics } from '../../train/trainer.ts';
import { mnistSubset, tempDir, useBestBackend } from './helpers.ts';

const SMALL = { generatorUnits: [32, 64], discriminatorUnits: [64, 32] };
let mnist: Dataset;

describe('diagnoses', () => {
  before(async () => {
    await useBestBackend();
    mnist = await mnistSubset(1024);
  });

  it('a healthy run raises nothing, and its summary says so', async () => {
    const outDir = await tempDir('diag-healthy');
    const result = await trainGan({
      family: 'mlp', familyConfig: SMALL, dataset: mnist, outDir, steps: 120, batchSize: 32, latentDim: 16, progress: false,
      diagnoses: { window: 20 }, onWarning: () => {},
    });
    assert.deepEqual(result.warnings.map((w) => w.code), [], JSON.stringify(result.warnings));
    const summary = JSON.parse(await readFile(join(outDir, 'summary.json'), 'utf8')) as { step: number; warnings: unknown[]; backend: string };
    assert.equal(summary.step, 120);
    assert.deepEqual(summary.warnings, []);
    assert.equal(summary.backend, tf.getBackend());
    const text = formatRunSummary(result.summary, outDir);
    assert.match(text, /done: step 120 \(epoch 3\) in \d+ s, [\d.]+ steps\/s on \w+/);
    assert.match(text, /diagnoses: none raised/);
    assert.match(text, /checkpoint: checkpoints\/step-000120/);
  });

  it('a discriminator learning 50× faster than the generator is reported as having won, with its evidence', async () => {
    const outDir = await tempDir('diag-won');
    const seen: Diagnosis[] = [];
    const result = await trainGan({
      family: 'mlp', familyConfig: SMALL, dataset: mnist, outDir, steps: 150, batchSize: 32, latentDim: 16, progress: false,
      learningRateGenerator: 2e-5, learningRateDiscriminator: 1e-3, diagnoses: { window: 20 }, onWarning: (d) => seen.push(d),
    });
    const won = result.warnings.find((w) => w.code === 'DISCRIMINATOR_WON');
    assert.ok(won, `no DISCRIMINATOR_WON; last metrics ${JSON.stringify(result.metrics)}`);
    assert.ok(won.evidence.dReal! > 0.9 && won.evidence.dFake! < 0.1, JSON.stringify(won.evidence));
    assert.match(won.remedy, /--lr-d/);
    assert.equal(seen.filter((d) => d.code === 'DISCRIMINATOR_WON').length, 1, 'raised once while the condition holds');
    const logged = (await readFile(join(outDir, 'diagnoses.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Diagnosis);
    assert.ok(logged.some((d) => d.code === 'DISCRIMINATOR_WON' && d.step === won.step));
  });

  it('an unconstrained Wasserstein critic with a large learning rate is reported as diverging', async () => {
    const outDir = await tempDir('diag-diverge');
    const result = await trainGan({
      family: 'mlp', familyConfig: SMALL, dataset: mnist, outDir, steps: 150, batchSize: 32, latentDim: 16, progress: false,
      loss: 'wasserstein', learningRateDiscriminator: 1e-2, learningRateGenerator: 1e-2, diagnoses: { window: 20 }, onWarning: () => {},
    });
    const diverging = result.warnings.find((w) => w.code === 'DIVERGENCE');
    assert.ok(diverging, `no DIVERGENCE; last metrics ${JSON.stringify(result.metrics)}`);
    const [name] = Object.keys(diverging.evidence);
    assert.ok(diverging.evidence[name!]! > 100 * diverging.evidence[`${name!}Early`]!, JSON.stringify(diverging.evidence));
    assert.ok(!result.warnings.some((w) => w.code === 'DISCRIMINATOR_WON'), 'a critic loss has no D(x) scale to have won on');
  });

  it('a generator that stops depending on z is reported as collapsed; its spread recovering re-arms the warning', () => {
    const family = getFamily('mlp');
    const context = { imageShape: [28, 28, 1] as [number, number, number], numClasses: null, latentDim: 16, seed: 3 };
    const generator = family.buildGenerator(resolveFamilyConfig(family, SMALL), context);
    const warned: Diagnosis[] = [];
    let step = 0;
    const run: RunView = {
      runDir: '/nonexistent', get step() { return step; }, totalSteps: 1000, backend: tf.getBackend(), context, numClasses: null,
      samplingGenerator: () => generator, recordEval: () => {}, warn: (d) => warned.push(d), requestCheckpoint: () => {},
    };
    const observer = diagnosesObserver({ window: 10, spreadEvery: 10 });
    void observer.onStart?.(run);
    const metrics = (s: number): StepMetrics => ({ step: s, epoch: 1, dLoss: 0.6, gLoss: 0.8, dReal: 0.6, dFake: 0.4, gradNormD: 1, gradNormG: 1, stepsPerSecond: 1 });
    const diverse = sampleSpread(run);
    assert.ok(diverse > 0.01, `a fresh generator's samples differ (spread ${diverse})`);
    for (step = 1; step <= 20; step++) void observer.onStep?.(metrics(step), run);
    assert.equal(warned.length, 0, JSON.stringify(warned));
    // The first dense layer's kernel set to 0: every z now gives the same image (a total collapse).
    const kernel = generator.layers.find((l) => l.getClassName() === 'Dense')!;
    const saved = kernel.getWeights().map((w) => w.clone());
    kernel.setWeights([tf.zerosLike(saved[0]!), saved[1]!]);
    assert.ok(sampleSpread(run) < 1e-6);
    for (; step <= 30; step++) void observer.onStep?.(metrics(step), run);
    assert.deepEqual(warned.map((w) => w.code), ['MODE_COLLAPSE']);
    assert.ok(warned[0]!.evidence.spread! < 1e-6 && warned[0]!.evidence.bestSpread! > 0.01, JSON.stringify(warned[0]!.evidence));
    for (; step <= 40; step++) void observer.onStep?.(metrics(step), run);
    assert.equal(warned.length, 1, 'not repeated while still collapsed');
    kernel.setWeights(saved);
    for (; step <= 50; step++) void observer.onStep?.(metrics(step), run);
    kernel.setWeights([tf.zerosLike(saved[0]!), saved[1]!]);
    for (; step <= 60; step++) void observer.onStep?.(metrics(step), run);
    assert.deepEqual(warned.map((w) => w.code), ['MODE_COLLAPSE', 'MODE_COLLAPSE'], 'raised again after recovering');
    for (const t of saved) t.dispose();
  });

  it('a judge class histogram that falls from varied to one class is a collapse; one that was never varied is not', () => {
    const warned: Diagnosis[] = [];
    const run = { warn: (d: Diagnosis) => warned.push(d) } as unknown as RunView;
    const record = (step: number, classCoverage: number) => ({ step, samples: 1000, frechetDistance: 50, conditionalAccuracy: null, classCoverage, diversity: 5, protocol: '' });
    const observer = diagnosesObserver({ window: 10 });
    void observer.onEval?.(record(100, 0.2), run); // an untrained G: blobs the judge calls one class
    assert.equal(warned.length, 0, JSON.stringify(warned));
    void observer.onEval?.(record(200, 0.95), run);
    void observer.onEval?.(record(300, 0.3), run);
    assert.deepEqual(warned.map((w) => [w.code, w.step]), [['MODE_COLLAPSE', 300]]);
    assert.equal(warned[0]!.evidence.bestCoverage, 0.95);
  });

  it('--eval-every records the judge metrics, checkpoints at that step and stores them in its sidecar', async () => {
    const outDir = await tempDir('diag-eval');
    const result = await trainGan({
      family: 'mlp', familyConfig: SMALL, dataset: mnist, outDir, steps: 20, batchSize: 32, latentDim: 16, progress: false,
      evalEvery: 10, onWarning: () => {}, keepCheckpoints: 0,
    });
    const records = (await readFile(join(outDir, 'eval.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; samples: number; frechetDistance: number; classCoverage: number });
    assert.deepEqual(records.map((r) => r.step), [10, 20]);
    for (const r of records) {
      assert.equal(r.samples, 1000);
      assert.ok(r.frechetDistance > 0 && Number.isFinite(r.frechetDistance));
      assert.ok(r.classCoverage >= 0 && r.classCoverage <= 1);
    }
    const sidecar = JSON.parse(await readFile(join(outDir, 'checkpoints', 'step-000010', 'run.json'), 'utf8')) as { eval?: { step: number; frechetDistance: number } };
    assert.equal(sidecar.eval?.step, 10);
    assert.equal(sidecar.eval?.frechetDistance, records[0]!.frechetDistance);
    assert.equal(result.eval?.step, 20);
  });
});
