// The AC-GAN family end to end on real MNIST: the auxiliary classifier learns (and only when its loss is weighted in),
// its metrics reach metrics.jsonl, the progress line and the sidecar, a two-headed discriminator survives checkpoint and
// resume, and the generator exports to ONNX with parity in the real onnxruntime-node.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { exportRun } from '../../export/export-run.ts';
import { loadCheckpoint } from '../../train/checkpoint.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { trainGan, type StepMetrics } from '../../train/trainer.ts';
import { mnistSubset, tempDir, useBestBackend } from './helpers.ts';

/** Small networks keep a step in milliseconds; dropout off so the class-learning comparison is deterministic. */
const SMALL = { generatorUnits: [32, 64], discriminatorUnits: [64, 32], discriminatorDropout: 0 };

let mnist: Dataset;

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe('acgan', () => {
  before(async () => {
    await useBestBackend();
    mnist = await mnistSubset(256);
  });

  it('the auxiliary classifier learns the real classes in 30 steps, and only when its loss is weighted in', async () => {
    const run = async (classLossWeight: number) => {
      const steps: StepMetrics[] = [];
      await trainGan({
        family: 'acgan', familyConfig: { ...SMALL, classLossWeight }, dataset: mnist, steps: 30, batchSize: 32, latentDim: 8,
        seed: 4, learningRateDiscriminator: 1e-3, outDir: await tempDir('acgan-learn'), progress: false, onStep: (m) => steps.push(m),
      });
      return steps;
    };
    const weighted = await run(1);
    assert.equal(weighted.length, 30);
    const lossStart = mean(weighted.slice(0, 5).map((m) => m.dClassLoss!));
    const lossEnd = mean(weighted.slice(-5).map((m) => m.dClassLoss!));
    const accuracyStart = mean(weighted.slice(0, 5).map((m) => m.dClassAccuracy!));
    const accuracyEnd = mean(weighted.slice(-5).map((m) => m.dClassAccuracy!));
    assert.ok(lossStart > 1.8, `an untrained 10-way classifier starts near ln 10 ≈ 2.3, got ${lossStart}`);
    // The fake half of D's class loss stays high while G is untrained, so the mean falls by ~0.7 (seeds 4, 5, 9), not to 0.
    assert.ok(lossEnd < lossStart - 0.4, `D's class loss fell from ${lossStart} to only ${lossEnd}`);
    assert.ok(accuracyEnd > 0.6 && accuracyEnd > accuracyStart + 0.3, `real-image class accuracy ${accuracyStart} → ${accuracyEnd}`);
    assert.ok(weighted.every((m) => Number.isFinite(m.gClassLoss) && m.dClassAccuracy! >= 0 && m.dClassAccuracy! <= 1));

    // Weight 0: the class head gets no gradient, so it stays at chance; the weight really reaches the loss.
    const unweighted = await run(0);
    const accuracyUnweighted = mean(unweighted.slice(-5).map((m) => m.dClassAccuracy!));
    assert.ok(accuracyUnweighted < 0.35, `with classLossWeight 0 the classifier still learned (accuracy ${accuracyUnweighted})`);
  });

  it('logs class metrics to metrics.jsonl, the progress line and the sidecar; checkpoints and resumes a two-headed D', async () => {
    const outDir = await tempDir('acgan-run');
    const stream = new PassThrough();
    let progress = '';
    stream.on('data', (chunk: Buffer) => { progress += chunk.toString(); });
    const options = {
      family: 'acgan', familyConfig: SMALL, dataset: mnist, batchSize: 32, latentDim: 8, seed: 6, outDir,
      progress: { stream, interactive: false },
    } as const;
    await trainGan({ ...options, steps: 4 });
    assert.match(progress, /cls D \d+\.\d{3} G \d+\.\d{3} acc \d+%/);

    const loaded = await loadCheckpoint(outDir);
    assert.deepEqual(loaded.discriminator.inputNames, ['image']);
    assert.equal(loaded.discriminator.outputs.length, 2);
    assert.equal(loaded.sidecar.family, 'acgan');
    assert.equal(loaded.sidecar.familyConfig.classLossWeight, 1);
    for (const key of ['dClassLoss', 'dClassAccuracy', 'gClassLoss']) {
      assert.ok(Number.isFinite(loaded.sidecar.metrics[key]), `sidecar metrics lack ${key}: ${JSON.stringify(loaded.sidecar.metrics)}`);
    }
    const probe = tf.tensor4d(mnist.images.subarray(0, 3 * 784), [3, 28, 28, 1]);
    const [logits, classLogits] = loaded.discriminator.predict(probe) as tf.Tensor[];
    assert.deepEqual([logits!.shape, classLogits!.shape], [[3, 1], [3, 10]]);
    tf.dispose([probe, logits!, classLogits!]);

    const seen: StepMetrics[] = [];
    await trainGan({ ...options, steps: 6, resume: true, progress: false, onStep: (m) => seen.push(m) });
    assert.deepEqual(seen.map((m) => m.step), [5, 6]);
    const lines = (await readFile(join(outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
    assert.equal(lines.length, 6);
    assert.ok(lines.every((l) => Number.isFinite(l.dClassLoss) && Number.isFinite(l.gClassLoss) && l.dClassAccuracy! >= 0 && l.dClassAccuracy! <= 1),
      `class metrics missing from metrics.jsonl: ${JSON.stringify(lines[0])}`);
  });

  it('rejects a class-loss weight that is not a finite number ≥ 0', async () => {
    const base = { family: 'acgan', dataset: mnist, steps: 1, batchSize: 32, latentDim: 8, progress: false } as const;
    await assert.rejects(trainGan({ ...base, familyConfig: { ...SMALL, classLossWeight: -1 }, outDir: await tempDir('acgan-bad') }),
      (e: unknown) => e instanceof RangeError && /classLossWeight' must be a finite number ≥ 0, got -1/.test(e.message));
    await assert.rejects(trainGan({ ...base, familyConfig: { classLossWeight: '1' }, outDir: await tempDir('acgan-bad') }), TypeError);
  });

  it('a NaN batch stops training with NAN_LOSS naming the step', async () => {
    const poisoned: Dataset = { ...mnist, images: mnist.images.slice().fill(NaN) };
    await assert.rejects(
      trainGan({ family: 'acgan', familyConfig: SMALL, dataset: poisoned, steps: 3, batchSize: 32, latentDim: 8, outDir: await tempDir('acgan-nan'), progress: false }),
      (e: unknown) => e instanceof GanforgeError && e.code === 'NAN_LOSS' && /at step 1\b/.test(e.message));
  });

  it('exports the generator to ONNX with parity in onnxruntime-node', async () => {
    const outDir = await tempDir('acgan-export');
    await trainGan({ family: 'acgan', familyConfig: SMALL, dataset: mnist, steps: 3, batchSize: 32, latentDim: 8, seed: 2, outDir, progress: false });
    const report = await exportRun({ runDir: outDir, outPath: join(outDir, 'acgan.onnx'), samples: 40, ganforgeVersion: 'test' });
    assert.equal(report.manifest.family, 'acgan');
    assert.deepEqual(report.manifest.inputs, { latent: 'z', label: 'label' });
    assert.deepEqual(report.manifest.classes, mnist.classes);
    assert.equal(report.parity.samples, 40);
    assert.ok(report.parity.maxAbsDiff <= 1e-4, `tfjs vs ONNX max |Δ| ${report.parity.maxAbsDiff}`);
    assert.ok(report.bytes > 0);
  });
});
