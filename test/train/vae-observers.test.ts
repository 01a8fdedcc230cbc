// The GAN loop's watching and steering on a VAE run (train/vae-trainer.ts with train/observers/run-view.ts):
// --eval-every judges the decoder like a generator, records eval.jsonl, checkpoints at that step and lets
// `export --best` pick the best checkpoint; a posterior collapse provoked on purpose (β = 200, so the KL term
// drowns the reconstruction) is raised with its evidence, and a healthy run (β = 1) raises nothing.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { exportRun } from '../../export/export-run.ts';
import type { Diagnosis } from '../../train/observers/observer.ts';
import { train } from '../../train/train.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { mnistSubset, tempDir, useBestBackend } from './helpers.ts';

let mnist: Dataset;
before(async () => {
  await useBestBackend();
  mnist = await mnistSubset(512);
});

describe('a VAE run is watched like a GAN run', () => {
  it('--eval-every records the judge metrics, checkpoints at those steps, and export --best exports the best one', async () => {
    const outDir = await tempDir('vae-eval');
    const result = await train({
      family: 'vae', familyConfig: { hiddenUnits: [64] }, dataset: mnist, outDir, steps: 16, batchSize: 32, latentDim: 8, progress: false,
      evalEvery: 8, keepCheckpoints: 0, onWarning: () => {},
    });
    const records = (await readFile(join(outDir, 'eval.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; frechetDistance: number; samples: number });
    assert.deepEqual(records.map((r) => r.step), [8, 16]);
    for (const r of records) assert.ok(r.frechetDistance > 0 && Number.isFinite(r.frechetDistance) && r.samples === 1000);
    assert.equal(result.eval?.step, 16);
    const sidecar = JSON.parse(await readFile(join(outDir, 'checkpoints', 'step-000008', 'run.json'), 'utf8')) as { eval?: { frechetDistance: number } };
    assert.equal(sidecar.eval?.frechetDistance, records[0]!.frechetDistance);
    const best = JSON.parse(await readFile(join(outDir, 'best.json'), 'utf8')) as { step: number };
    const bestStep = records[0]!.frechetDistance <= records[1]!.frechetDistance ? 8 : 16;
    assert.equal(best.step, bestStep);
    const exported = await exportRun({ runDir: outDir, outPath: join(outDir, 'best.onnx'), best: true, samples: 16 });
    assert.equal(exported.manifest.training.steps, bestStep);
    assert.equal(exported.manifest.family, 'vae');
  });

  it('posterior collapse is raised when the KL term wins (β 200), with its evidence; a β 1 run raises nothing', async () => {
    const run = async (beta: number) => {
      const warnings: Diagnosis[] = [];
      const outDir = await tempDir(`vae-beta-${beta}`);
      const result = await train({
        family: 'vae', familyConfig: { hiddenUnits: [64], beta }, dataset: mnist, outDir, steps: 60, batchSize: 32, latentDim: 8, progress: false,
        onWarning: (d) => warnings.push(d),
      });
      return { warnings, result, outDir };
    };
    const collapsed = await run(200);
    assert.deepEqual(collapsed.warnings.map((w) => w.code), ['POSTERIOR_COLLAPSE']);
    assert.ok(collapsed.warnings[0]!.evidence.klDivergence! < 0.5, JSON.stringify(collapsed.warnings[0]!.evidence));
    assert.match(collapsed.warnings[0]!.remedy, /beta/);
    assert.deepEqual(collapsed.result.warnings.map((w) => w.code), ['POSTERIOR_COLLAPSE'], 'in the result and the summary');
    const logged = (await readFile(join(collapsed.outDir, 'diagnoses.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as Diagnosis).code);
    assert.deepEqual(logged, ['POSTERIOR_COLLAPSE']);
    const healthy = await run(1);
    assert.deepEqual(healthy.warnings, [], JSON.stringify(healthy.warnings));
  });
});
