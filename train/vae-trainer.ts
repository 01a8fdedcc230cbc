// The training loop of a variational family (train/models/vae.ts): one VaeStepper update per batch, on the same
// datasets, seeds, checkpoints, metrics.jsonl and per-epoch sample grids as the GAN loop, so a VAE run is exported
// and served like any GAN run. The decoder is checkpointed as generator/, the encoder as discriminator/.
// train/train.ts picks this loop for families whose objective is 'variational'.

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError, InvalidParameterError } from '../common/errors.ts';
import { tileImages, type RasterImage } from '../common/pixels.ts';
import { encodePng } from '../common/png.ts';
import { SeededRandom, assertSeed } from '../common/random.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { OptimizerState } from './optimizers/state.ts';
import { loadDataset, type AnyDataset } from './dataset/registry.ts';
import type { BuildContext } from './models/family.ts';
import { getFamily, resolveFamilyConfig } from './models/registry.ts';
import { validateVaeConfig, type VaeConfig } from './models/vae.ts';
import { getOptimizer } from './optimizers/registry.ts';
import { formatSchedule, parseSchedule, scheduleFactor } from './optimizers/schedule.ts';
import { portablePath } from './portable-paths.ts';
import { ProgressBar } from './progress.ts';
import { SIDECAR_FORMAT, type RunSidecar } from './run-sidecar.ts';
import { activeRunObserver } from './observers/active-run.ts';
import { evalEveryObserver } from './observers/eval-every.ts';
import type { TrainingObserver } from './observers/observer.ts';
import { plotsObserver } from './observers/plots.ts';
import { createRunView } from './observers/run-view.ts';
import { vaeDiagnosesObserver } from './observers/vae-diagnoses.ts';
import { SUMMARY_FILE, summarizeRun } from './run-summary.ts';
import { buildGanPair, sampleGrid, shuffledIndices, truncateLogs, type TrainGanOptions, type TrainGanResult } from './trainer.ts';
import { VaeStepper, type VaeStepMetrics } from './vae-stepper.ts';

import type { VaeStepRecord } from './step-metrics.ts';

export type { VaeStepRecord };

export type TrainVaeResult = Omit<TrainGanResult, 'metrics'> & { metrics: VaeStepRecord | null };

/** The VAE defaults that differ from the GAN loop's: Adam at 1e-3 with β1 0.9, as Kingma & Welling's Adam setting. */
export const VAE_LEARNING_RATE = 1e-3;
export const VAE_BETA1 = 0.9;

/**
 * Options of the GAN loop that mean nothing to a VAE, with the value that means "off": given otherwise, they are an
 * error rather than silently ignored.
 */
const ADVERSARIAL_ONLY: ReadonlyArray<[keyof TrainGanOptions, unknown]> = [
  ['loss', undefined], ['discriminatorSteps', 1], ['labelSmoothing', 0], ['gradientPenalty', 0], ['weightClip', 0], ['generatorEma', 0],
  ['preset', undefined], ['onStep', undefined],
];

/** Trains a VAE as described by `options` (a variational family); resolves when done or aborted, rejects with NAN_LOSS. */
export async function trainVae(options: TrainGanOptions): Promise<TrainVaeResult> {
  if (typeof options !== 'object' || options === null) throw new TypeError('trainVae: options must be an object');
  const family = getFamily(options.family);
  if (family.objective !== 'variational') {
    throw new InvalidParameterError('family', `trainVae trains variational families; '${family.name}' is adversarial (use trainGan)`);
  }
  for (const [name, off] of ADVERSARIAL_ONLY) {
    const value = options[name];
    if (value !== undefined && value !== off && !(Array.isArray(value) && value.length === 0)) {
      throw new InvalidParameterError(name, `'${name}' belongs to the adversarial loop and does nothing for variational family '${family.name}' (given ${JSON.stringify(value)})`);
    }
  }
  const familyConfig = resolveFamilyConfig(family, options.familyConfig ?? {});
  const config = familyConfig as unknown as VaeConfig;
  validateVaeConfig(config, family.name);
  const o = {
    epochs: options.epochs ?? 5, batchSize: options.batchSize ?? 64, latentDim: options.latentDim ?? 100, seed: options.seed ?? 0,
    optimizer: options.optimizer ?? 'adam', lrSchedule: options.lrSchedule ?? 'constant',
    learningRateDecoder: options.learningRateGenerator ?? VAE_LEARNING_RATE, learningRateEncoder: options.learningRateDiscriminator ?? VAE_LEARNING_RATE,
    beta1: options.beta1 ?? VAE_BETA1, beta2: options.beta2 ?? 0.999, momentum: options.momentum ?? 0, rho: options.rho ?? 0.9, epsilon: options.epsilon,
    sampleEvery: options.sampleEvery ?? 0, checkpointEvery: options.checkpointEvery ?? 0, keepCheckpoints: options.keepCheckpoints ?? 3,
    resume: options.resume ?? false, command: options.command ?? '', evalEvery: options.evalEvery ?? 0,
    keepBest: options.keepBest, // undefined: saveCheckpoint's default (frechetDistance)
  };
  if (typeof options.outDir !== 'string' || options.outDir === '') throw new TypeError(`'outDir' must be a non-empty string, got ${String(options.outDir)}`);
  const counts: [string, unknown, number][] = [['epochs', o.epochs, 1], ['batchSize', o.batchSize, 1], ['latentDim', o.latentDim, 1], ['sampleEvery', o.sampleEvery, 0],
    ['checkpointEvery', o.checkpointEvery, 0], ['keepCheckpoints', o.keepCheckpoints, 0], ['evalEvery', o.evalEvery, 0], ...(options.steps === undefined ? [] : [['steps', options.steps, 1] as [string, unknown, number]])];
  for (const [name, value, min] of counts) {
    if (typeof value !== 'number') throw new TypeError(`'${name}' must be a number, got ${typeof value}`);
    if (!Number.isInteger(value) || value < min) throw new RangeError(`'${name}' must be an integer ≥ ${min}, got ${value}`);
  }
  for (const [name, value] of [['learningRateGenerator', o.learningRateDecoder], ['learningRateDiscriminator', o.learningRateEncoder]] as const) {
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`'${name}' must be a positive finite number, got ${value}`);
  }
  assertSeed(o.seed);
  getOptimizer(o.optimizer);
  const schedule = parseSchedule(o.lrSchedule);

  const dataset: AnyDataset = typeof options.dataset === 'string' ? await loadDataset({ dataset: options.dataset, ...options.datasetOptions }) : options.dataset;
  const [count, height, width, channels] = dataset.shape;
  if (family.conditional && (dataset.labels === null || dataset.classes === null)) {
    throw new InvalidParameterError('dataset', `family '${family.name}' is conditional and needs labels; dataset '${dataset.name}' has none (give a labels file)`);
  }
  const stepsPerEpoch = Math.floor(count / o.batchSize);
  if (stepsPerEpoch < 1) throw new RangeError(`'batchSize' (${o.batchSize}) must not exceed the dataset size ${count}`);
  const totalSteps = options.steps ?? o.epochs * stepsPerEpoch;
  const numClasses = family.conditional ? dataset.classes!.length : null;
  const context: BuildContext = { imageShape: [height, width, channels], numClasses, latentDim: o.latentDim, seed: o.seed };
  const runDir = resolve(options.outDir);
  await mkdir(join(runDir, 'samples'), { recursive: true });

  let startStep = 0;
  let previousSeconds = 0;
  let pair: { generator: tf.LayersModel; discriminator: tf.LayersModel };
  let restoredOptimizer: { state: OptimizerState | null; dir: string } | null = null;
  if (o.resume) {
    const loaded = await loadCheckpoint(runDir);
    restoredOptimizer = { state: loaded.optimizerState, dir: loaded.dir };
    if (loaded.sidecar.family !== family.name) {
      throw new InvalidParameterError('family', `cannot resume run ${runDir}: it trains family '${loaded.sidecar.family}', not '${family.name}'`);
    }
    loaded.generatorEma?.dispose();
    pair = { generator: loaded.generator, discriminator: loaded.discriminator };
    startStep = loaded.sidecar.step;
    previousSeconds = loaded.sidecar.durationSeconds;
    // As in the GAN loop: steps logged past the checkpoint (a run killed after it) are trained again, so their lines go.
    await truncateLogs(runDir, startStep);
  } else {
    pair = buildGanPair(family, familyConfig, context);
  }
  const stepper = new VaeStepper({
    decoder: pair.generator, encoder: pair.discriminator, numClasses, latentDim: o.latentDim, beta: config.beta, reconstruction: config.reconstruction,
    gaussianStd: config.gaussianStd, optimizer: o.optimizer, learningRateDecoder: o.learningRateDecoder, learningRateEncoder: o.learningRateEncoder,
    settings: { beta1: o.beta1, beta2: o.beta2, momentum: o.momentum, rho: o.rho, epsilon: o.epsilon }, seed: o.seed,
  });
  if (restoredOptimizer !== null) {
    const { state, dir } = restoredOptimizer;
    const mismatch = state === null ? 'it has no optimizer state' : await stepper.restoreOptimizerState(state);
    if (mismatch !== null) process.stderr.write(`warning: resuming from ${dir}: ${mismatch}; the ${o.optimizer} optimizer state restarts from zero\n`);
  }
  const backend = tf.getBackend();
  const started = performance.now();
  const seconds = () => previousSeconds + (performance.now() - started) / 1000;
  const metricsLog = createWriteStream(join(runDir, 'metrics.jsonl'), { flags: o.resume ? 'a' : 'w' });
  const samples: string[] = [];
  let step = startStep;
  let last: VaeStepRecord | null = null;
  let checkpointDir = '';

  const sidecar = (): RunSidecar => ({
    format: SIDECAR_FORMAT,
    family: family.name,
    objective: 'variational',
    familyConfig,
    dataset: portablePath(dataset.name, runDir),
    classes: family.conditional ? dataset.classes : null,
    imageShape: [height, width, channels],
    valueRange: [-1, 1],
    latentDim: o.latentDim,
    step,
    epoch: Math.floor(step / stepsPerEpoch),
    batchSize: o.batchSize,
    seed: o.seed,
    backend,
    loss: `elbo:${config.reconstruction}`,
    learningRates: { generator: o.learningRateDecoder, discriminator: o.learningRateEncoder },
    training: {
      optimizer: o.optimizer, beta1: o.beta1, beta2: o.beta2, momentum: o.momentum, rho: o.rho, epsilon: o.epsilon ?? null,
      lrSchedule: formatSchedule(schedule), discriminatorSteps: 1, labelSmoothing: 0, gradientPenalty: 0, weightClip: 0, generatorEma: 0, preset: null,
    },
    command: o.command,
    durationSeconds: Math.round(seconds() * 10) / 10,
    savedAt: new Date().toISOString(),
    metrics: last === null ? {} : Object.fromEntries(Object.entries(last).filter(([k, v]) => k !== 'step' && k !== 'epoch' && typeof v === 'number')),
    ...(record.lastEval() === null ? {} : { eval: record.lastEval()! }),
  });
  // The GAN loop's record keeping and observers, with the VAE's own diagnoses: the live-run marker (the dashboard's
  // stop button), the plots, --eval-every (the decoder judged like a generator, so --keep-best and export --best
  // work), and posterior collapse.
  const record = createRunView({
    runDir, totalSteps, backend, context, numClasses, step: () => step, samplingGenerator: () => stepper.decoder,
    metricsLog, onWarning: options.onWarning, observers: () => observers,
  });
  const run = record.view;
  const observers: TrainingObserver[] = [
    activeRunObserver(),
    ...(options.diagnoses === false ? [] : [vaeDiagnosesObserver()]),
    ...(o.evalEvery > 0 ? [evalEveryObserver({ every: o.evalEvery })] : []),
    plotsObserver({ flush: () => new Promise<void>((r) => { metricsLog.write('', () => r()); }) }),
    ...(options.observers ?? []),
  ];
  const save = async () => {
    checkpointDir = await saveCheckpoint({ runDir, ...pair, sidecar: sidecar(), keep: o.keepCheckpoints, optimizerState: await stepper.optimizerState(), keepBest: o.keepBest });
    for (const observer of observers) await observer.onCheckpoint?.(checkpointDir, run);
  };
  // Fixed probe images for the reconstruction grids: the first 32 of the dataset, the same at every epoch.
  const probeCount = Math.min(32, count);
  const probe = new Float32Array(probeCount * height * width * channels);
  dataset.readImages(Int32Array.from({ length: probeCount }, (_, i) => i), probe);
  const probeLabels = dataset.labels === null || numClasses === null ? null : Int32Array.from({ length: probeCount }, (_, i) => dataset.labels![i]!);
  const writeSamples = async (name: string) => {
    const path = join(runDir, 'samples', `${name}.png`);
    await writeFileAtomic(path, encodePng(sampleGrid(stepper.decoder, context, numClasses)));
    await writeFileAtomic(join(runDir, 'samples', `reconstructions-${name}.png`), encodePng(reconstructionGrid(stepper, probe, probeLabels, context)));
    samples.push(path);
  };

  const realBuffer = new Float32Array(o.batchSize * height * width * channels);
  const labelBuffer = new Int32Array(o.batchSize);
  let aborted = false;
  try {
    for (const observer of observers) await observer.onStart?.(run);
    while (step < totalSteps) {
      const epoch = Math.floor(step / stepsPerEpoch) + 1;
      const order = shuffledIndices(count, new SeededRandom(o.seed, epoch));
      const epochStart = step;
      const epochEnd = Math.min(totalSteps, epoch * stepsPerEpoch);
      const bar = options.progress === false ? null
        : new ProgressBar({ total: epochEnd - (epoch - 1) * stepsPerEpoch, label: `epoch ${epoch}/${Math.ceil(totalSteps / stepsPerEpoch)}`, ...(options.progress === true ? {} : options.progress) });
      const epochTimer = performance.now();
      while (step < epochEnd) {
        if (options.signal?.aborted) { aborted = true; break; }
        const inEpoch = step - (epoch - 1) * stepsPerEpoch;
        stepper.setLearningRateFactor(scheduleFactor(schedule, step, totalSteps));
        const batchIndices = order.subarray(inEpoch * o.batchSize, (inEpoch + 1) * o.batchSize);
        dataset.readImages(batchIndices, realBuffer);
        if (dataset.labels) for (let b = 0; b < o.batchSize; b++) labelBuffer[b] = dataset.labels[batchIndices[b]!]!;
        const real = tf.tensor4d(realBuffer, [o.batchSize, height, width, channels]);
        const labels = numClasses === null ? null : tf.tensor2d(labelBuffer, [o.batchSize, 1], 'int32');
        let metrics: VaeStepMetrics;
        try {
          metrics = stepper.trainStep(real, labels, step);
        } finally {
          real.dispose();
          labels?.dispose();
        }
        step += 1;
        last = { step, epoch, ...metrics, stepsPerSecond: (step - epochStart) / Math.max((performance.now() - epochTimer) / 1000, 1e-9) };
        if (!Object.values(last).every(Number.isFinite)) {
          throw new GanforgeError('NAN_LOSS',
            `training diverged at step ${step} (epoch ${epoch}): reconstruction ${last.reconstructionLoss}, KL ${last.klDivergence}; ` +
            `${checkpointDir ? `the last good checkpoint is ${checkpointDir}` : 'no checkpoint was saved before it'}; try a lower learning rate`);
        }
        metricsLog.write(`${JSON.stringify({ ...last, time: Math.round(seconds() * 1000) / 1000 })}\n`);
        for (const observer of observers) await observer.onStep?.(last, run);
        bar?.update(step - (epoch - 1) * stepsPerEpoch, describe(last));
        if (o.sampleEvery > 0 && step % o.sampleEvery === 0) await writeSamples(`step-${String(step).padStart(6, '0')}`);
        if (record.takeCheckpointRequest() || (o.checkpointEvery > 0 && step % o.checkpointEvery === 0)) await save();
        // Let SIGINT handlers and pending I/O run: training steps are synchronous on wasm/cpu.
        await new Promise((r) => setImmediate(r));
      }
      if (last !== null) bar?.finish(step - (epoch - 1) * stepsPerEpoch, describe(last));
      if (aborted) break;
      await writeSamples(step === epoch * stepsPerEpoch ? `epoch-${String(epoch).padStart(4, '0')}` : `step-${String(step).padStart(6, '0')}`);
      await save();
    }
    if (aborted || checkpointDir === '') await save();
  } finally {
    await new Promise<void>((r) => metricsLog.end(r));
    for (const observer of observers) await observer.onEnd?.(run);
    stepper.dispose();
  }
  const finished = {
    runDir, checkpointDir, step, epoch: Math.floor(step / stepsPerEpoch), aborted, metrics: last, samples, backend,
    durationSeconds: seconds(), warnings: record.warnings, eval: record.lastEval(),
  };
  const summary = summarizeRun(finished, { steps: step - startStep, seconds: (performance.now() - started) / 1000 });
  await writeFileAtomic(join(runDir, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  return { ...finished, summary };
}

/**
 * Pairs of rows: the probe images, then their reconstructions decode(μ(x)) in inference mode (the posterior mean, no
 * noise), 8 per row.
 */
export function reconstructionGrid(stepper: VaeStepper, probe: Float32Array, labels: Int32Array | null, context: BuildContext): RasterImage {
  const [height, width, channels] = context.imageShape;
  const count = probe.length / (height * width * channels);
  const columns = 8;
  const rows = Math.ceil(count / columns);
  const pixels = tf.tidy(() => {
    const images = tf.tensor4d(probe, [count, height, width, channels]);
    const label = labels === null ? null : tf.tensor2d(labels, [count, 1], 'int32');
    const [mean] = stepper.encoder.predict(label ? [images, label] : images) as tf.Tensor[];
    const decoded = stepper.decoder.predict(label ? [mean!, label] : mean!) as tf.Tensor;
    // Interleave by rows of 8: real row r, then its reconstruction.
    const padded = (t: tf.Tensor) => tf.concat([t, tf.zeros([rows * columns - count, height, width, channels])]).reshape([rows, 1, columns, height, width, channels]);
    return tf.concat([padded(images), padded(decoded)], 1).reshape([rows * 2 * columns, height, width, channels]);
  });
  const data = pixels.dataSync();
  pixels.dispose();
  return tileImages(data, [rows * 2 * columns, height, width, channels], [-1, 1], { columns });
}

function describe(m: VaeStepRecord): string {
  return `recon ${m.reconstructionLoss.toFixed(2)} KL ${m.klDivergence.toFixed(2)} ELBO ${m.elbo.toFixed(2)} ${m.stepsPerSecond.toFixed(1)} step/s`;
}
