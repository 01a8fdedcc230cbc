// Exact resume: a run interrupted and resumed reaches bit-identical weights (G, D, the EMA generator) and optimizer
// state to an uninterrupted one on the same backend — in process through the AbortSignal mid-epoch (Adam, RMSProp with
// momentum and a cosine schedule over a dropout discriminator, SGD momentum with EMA; on wasm and on cpu), and through
// the real CLI in a child process stopped by SIGINT or killed with SIGKILL after a periodic checkpoint. Also: dropout
// masks are seeded, and a checkpoint without optimizer state resumes with a notice (and then differs, as it must).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { CHECKSUMS_FILE, GENERATOR_EMA_DIR, LATEST_FILE, OPTIMIZER_DIR } from '../../train/checkpoint.ts';
import type { Dataset } from '../../train/dataset/registry.ts';
import { trainGan, type TrainGanOptions } from '../../train/trainer.ts';
import { mnistSubset, tempDir, useBestBackend } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** Observers that only watch are off: they cannot change the weights, and they cost time. */
const QUIET = { diagnoses: false, plots: false, progress: false } as Partial<TrainGanOptions>;
const SMALL = { generatorUnits: [32, 64], discriminatorUnits: [64, 32] };

let mnist: Dataset;

/** Every file that holds trained state, as bytes: G, D, the EMA generator and both optimizers. */
async function stateFiles(checkpointDir: string): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  for (const name of ['generator/weights.bin', 'discriminator/weights.bin', `${GENERATOR_EMA_DIR}/weights.bin`, `${OPTIMIZER_DIR}/weights.bin`, `${OPTIMIZER_DIR}/state.json`]) {
    try {
      files[name] = await readFile(join(checkpointDir, name));
    } catch {
      // generator-ema/ only with EMA
    }
  }
  return files;
}

function assertSameState(resumed: Record<string, Buffer>, straight: Record<string, Buffer>, what: string): void {
  assert.deepEqual(Object.keys(resumed).sort(), Object.keys(straight).sort(), `${what}: the same state files`);
  for (const [name, bytes] of Object.entries(straight)) {
    assert.ok(bytes.length > 0, `${what}: ${name} is empty`);
    assert.ok(resumed[name]!.equals(bytes), `${what}: ${name} differs between the resumed and the uninterrupted run`);
  }
}

interface Scenario {
  name: string;
  options: Partial<TrainGanOptions>;
  stopAt: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'mlp, Adam', options: { family: 'mlp' }, stopAt: 21 },
  // cgan's discriminator has dropout (0.3): its masks must be drawn again identically.
  { name: 'cgan with dropout, RMSProp + momentum, cosine schedule', options: { family: 'cgan', optimizer: 'rmsprop', momentum: 0.5, learningRateGenerator: 1e-3, learningRateDiscriminator: 1e-3, lrSchedule: 'warmup:4,cosine' }, stopAt: 13 },
  { name: 'mlp, SGD + momentum, generator EMA', options: { family: 'mlp', optimizer: 'sgd', momentum: 0.9, learningRateGenerator: 1e-2, learningRateDiscriminator: 1e-2, generatorEma: 0.9 }, stopAt: 7 },
  // Noise inputs, the second latent and the mixing decisions draw in every generator pass; the tracked mean w is state.
  { name: 'stylegan-lite (noise, style mixing, mean w)', options: { family: 'stylegan-lite', familyConfig: { wDim: 16, mappingLayers: 2, synthesisChannels: 16, discriminatorChannels: 8 }, steps: 6, batchSize: 8 }, stopAt: 3 },
];

function base(scenario: Scenario, outDir: string): TrainGanOptions {
  return { family: 'mlp', familyConfig: SMALL, dataset: mnist, steps: 30, batchSize: 16, latentDim: 8, seed: 3, outDir, ...QUIET, ...scenario.options };
}

describe('exact resume, in process', () => {
  let backendBefore = '';
  before(async () => {
    await useBestBackend();
    backendBefore = tf.getBackend();
    mnist = await mnistSubset(256); // 16 batches of 16: one epoch is 16 steps, so a stop at 21 is mid-epoch 2
  });
  after(async () => { await tf.setBackend(backendBefore); });

  for (const backend of ['wasm', 'cpu']) {
    for (const scenario of SCENARIOS) {
      it(`${backend}: ${scenario.name}: stopped at step ${scenario.stopAt} and resumed = uninterrupted, byte for byte`, async () => {
        assert.ok(await tf.setBackend(backend), `backend ${backend} is not available`);
        const straightDir = await tempDir('straight');
        const straight = await trainGan(base(scenario, straightDir));
        assert.equal(straight.step, base(scenario, straightDir).steps);

        const resumedDir = await tempDir('resumed');
        const controller = new AbortController();
        const first = await trainGan({ ...base(scenario, resumedDir), signal: controller.signal, onStep: (m) => { if (m.step === scenario.stopAt) controller.abort(); } });
        assert.equal(first.aborted, true);
        assert.equal(first.step, scenario.stopAt);
        const atStop = await stateFiles(first.checkpointDir);
        const resumed = await trainGan({ ...base(scenario, resumedDir), resume: true });
        assert.equal(resumed.step, base(scenario, resumedDir).steps);
        assert.deepEqual(resumed.resumeNotices, [], 'nothing restarted on resume');

        const final = await stateFiles(resumed.checkpointDir);
        assertSameState(final, await stateFiles(straight.checkpointDir), `${backend} ${scenario.name}`);
        assert.ok(!final['generator/weights.bin']!.equals(atStop['generator/weights.bin']!), 'the resumed run trained on');
        const metrics = (await readFile(join(resumedDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; dLoss: number });
        assert.deepEqual(metrics.map((m) => m.step), Array.from({ length: resumed.step }, (_, i) => i + 1), 'one metrics line per step');
        const straightMetrics = (await readFile(join(straightDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { dLoss: number });
        assert.deepEqual(metrics.map((m) => m.dLoss), straightMetrics.map((m) => m.dLoss), 'the same losses at every step');
        await rm(straightDir, { recursive: true });
        await rm(resumedDir, { recursive: true });
      });
    }
  }

  it('dropout masks are seeded: a dropout discriminator trains the same twice, and masks change from step to step', async () => {
    await tf.setBackend(backendBefore);
    const run = async () => {
      const outDir = await tempDir('dropout');
      const result = await trainGan({ family: 'cgan', familyConfig: { ...SMALL, discriminatorDropout: 0.5 }, dataset: mnist, steps: 4, batchSize: 16, latentDim: 8, seed: 9, outDir, ...QUIET });
      const files = await stateFiles(result.checkpointDir);
      await rm(outDir, { recursive: true });
      return files;
    };
    assertSameState(await run(), await run(), 'two runs with one seed');
    // Masks per update, not one fixed mask: the seeded layer gets a new seed for each pass (and its own back after).
    const { PassSeeds, randomLayers } = await import('../../train/pass-seeds.ts');
    const input = tf.input({ shape: [64] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dropout({ rate: 0.5 }).apply(input) as tf.SymbolicTensor });
    const seeds = new PassSeeds(9, [model]);
    const mask = (key: number) => {
      seeds.beginUpdate(key);
      seeds.beforePass(model);
      const out = tf.tidy(() => Array.from((model.apply(tf.ones([1, 64]), { training: true }) as tf.Tensor).dataSync()));
      seeds.endUpdate();
      return out;
    };
    assert.deepEqual(mask(5), mask(5));
    assert.notDeepEqual(mask(5), mask(6));
    assert.equal((randomLayers(model)[0] as unknown as { seed?: number }).seed, undefined, 'the layer keeps its own seed');
  });

  it('a checkpoint without optimizer state (older ganforge) resumes with a one-line notice, and the moments restart', async () => {
    await tf.setBackend(backendBefore);
    const scenario = SCENARIOS[0]!;
    const straightDir = await tempDir('straight');
    const straight = await trainGan(base(scenario, straightDir));
    const outDir = await tempDir('old');
    const controller = new AbortController();
    const first = await trainGan({ ...base(scenario, outDir), signal: controller.signal, onStep: (m) => { if (m.step === 10) controller.abort(); } });
    // What a checkpoint written before optimizer state (and checksums) were kept looks like.
    await rm(join(first.checkpointDir, OPTIMIZER_DIR), { recursive: true });
    await rm(join(first.checkpointDir, CHECKSUMS_FILE));
    const resumed = await trainGan({ ...base(scenario, outDir), resume: true });
    assert.equal(resumed.step, 30);
    assert.equal(resumed.resumeNotices?.length, 1);
    assert.match(resumed.resumeNotices[0]!, /step-000010: it has no optimizer state \(saved before ganforge kept it\); the adam optimizer state \(moments, step count\) restarts from zero/);
    // Without the moments the run goes elsewhere: the byte-for-byte tests above would notice a resume that drops them.
    const a = await stateFiles(resumed.checkpointDir);
    const b = await stateFiles(straight.checkpointDir);
    assert.ok(!a['generator/weights.bin']!.equals(b['generator/weights.bin']!));
    await rm(straightDir, { recursive: true });
    await rm(outDir, { recursive: true });
  });
});

/** `ganforge train` in a child process, exactly as a user runs it. */
function cliTrain(outDir: string, backend: string, extra: string[]) {
  const args = ['--import', 'tsx', 'cli/main.ts', 'train', '--family', 'mlp', '--set', 'generatorUnits=[32,64]', '--set', 'discriminatorUnits=[64,32]',
    '--dataset', 'mnist', '--limit', '256', '--batch-size', '16', '--latent-dim', '8', '--seed', '4', '--no-diagnoses', '--backend', backend,
    ...(backend === 'wasm' ? ['--threads', '1'] : []), '--out', outDir, ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, stderr }));
  return { child, exited };
}

async function latestStep(runDir: string): Promise<{ step: number; dir: string }> {
  const pointer = JSON.parse(await readFile(join(runDir, LATEST_FILE), 'utf8')) as { step: number; checkpoint: string };
  return { step: pointer.step, dir: join(runDir, pointer.checkpoint) };
}

describe('exact resume through the CLI (child processes)', () => {
  // The interrupted run is given far more steps than it will make, so the signal always lands mid-run whatever the
  // machine's speed; the resumed run then stops at the stop step + 9, and the uninterrupted one trains that many
  // straight. The learning rate is constant, so the declared total does not enter the arithmetic.
  for (const backend of ['wasm', 'cpu']) {
    for (const how of ['SIGINT', 'SIGKILL'] as const) {
      it(`${backend}: ${how === 'SIGINT' ? 'Ctrl-C (SIGINT) saves and exits 130' : 'kill -9 after a periodic checkpoint'}; --resume reaches the uninterrupted weights byte for byte`, async () => {
        const runDir = await tempDir(`cli-${how}`);
        await mkdir(runDir, { recursive: true });
        // The signal goes when a checkpoint lands (latest.json renamed into place), watched, not timed.
        const watcher = watch(runDir);
        const { child, exited } = cliTrain(runDir, backend, ['--steps', '100000', '--checkpoint-every', '6']);
        const checkpointed = new Promise<void>((resolveWatch) => {
          watcher.on('change', (_event, name) => { if (name === LATEST_FILE) resolveWatch(); });
        });
        await Promise.race([checkpointed, exited.then((r) => { throw new Error(`the child exited before its first checkpoint: ${r.code} ${r.stderr}`); })]);
        watcher.close();
        child.kill(how);
        const stopped = await exited;
        if (how === 'SIGINT') {
          assert.equal(stopped.code, 130, stopped.stderr);
          assert.match(stopped.stderr, /interrupted: saving a checkpoint at the current step/);
        } else {
          assert.equal(stopped.signal, 'SIGKILL');
        }
        const { step } = await latestStep(runDir);
        assert.ok(step >= 6 && step < 100000, `stopped at step ${step}`);
        const total = step + 9;

        const resumed = await cliTrain(runDir, backend, ['--steps', String(total), '--checkpoint-every', '6', '--resume']).exited;
        assert.equal(resumed.code, 0, resumed.stderr);
        const straightDir = await tempDir('cli-straight');
        const straight = await cliTrain(straightDir, backend, ['--steps', String(total), '--checkpoint-every', '6']).exited;
        assert.equal(straight.code, 0, straight.stderr);

        const a = await latestStep(runDir);
        const b = await latestStep(straightDir);
        assert.equal(a.step, total);
        assert.equal(b.step, total);
        assertSameState(await stateFiles(a.dir), await stateFiles(b.dir), `${backend} ${how} at step ${step}, resumed to ${total}`);
        const steps = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { step?: number }).step).filter((s) => s !== undefined);
        assert.deepEqual(steps, Array.from({ length: total }, (_, i) => i + 1), 'metrics.jsonl has each step once (lines logged after the checkpoint by the killed run are dropped)');
        await rm(runDir, { recursive: true });
        await rm(straightDir, { recursive: true });
      });
    }
  }
});
