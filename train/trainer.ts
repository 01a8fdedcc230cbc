// The GAN training loop: alternating discriminator and generator updates with real tfjs gradients, seeded so a run can
// be repeated, checkpointed atomically so it can be stopped at any time, and logged (metrics.jsonl, per-epoch sample
// grids) so a run can be judged without opening a notebook. Runs on whatever tfjs backend is current
// (train/backend.ts selects it); this file imports '@tensorflow/tfjs' only.

import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError, InvalidParameterError } from '../common/errors.ts';
import { sampleLatents } from '../common/latents.ts';
import { tileImages } from '../common/pixels.ts';
import { encodePng } from '../common/png.ts';
import { SeededRandom, assertSeed } from '../common/random.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { BEST_METRICS, loadCheckpoint, saveCheckpoint, type BestMetric } from './checkpoint.ts';
import { loadDataset, type Dataset, type LoadDatasetOptions } from './dataset/registry.ts';
import { GanStepper, type DiscriminatorStepMetrics, type GeneratorStepMetrics } from './gan-stepper.ts';
import { getLoss } from './losses/registry.ts';
import type { BuildContext, GanFamily } from './models/family.ts';
import { getFamily, resolveFamilyConfig } from './models/registry.ts';
import { getOptimizer } from './optimizers/registry.ts';
import type { OptimizerState } from './optimizers/state.ts';
import { formatSchedule, parseSchedule, scheduleFactor } from './optimizers/schedule.ts';
import { portablePath } from './portable-paths.ts';
import { activeRunObserver } from './observers/active-run.ts';
import { diagnosesObserver, type DiagnosesOptions } from './observers/diagnoses.ts';
import { evalEveryObserver } from './observers/eval-every.ts';
import { plotsObserver } from './observers/plots.ts';
import type { Diagnosis, EvalRecord, TrainingObserver } from './observers/observer.ts';
import { createRunView } from './observers/run-view.ts';
import { applyPreset } from './presets.ts';
import { ProgressBar, type ProgressOptions } from './progress.ts';
import { SIDECAR_FORMAT, type RunSidecar } from './run-sidecar.ts';
import { SUMMARY_FILE, summarizeRun, type RunSummary } from './run-summary.ts';
import type { StepMetrics } from './step-metrics.ts';
import { TECHNIQUE_OPTIONS } from './techniques/registry.ts';


export interface TrainGanOptions {
  /** GAN family name from train/models/registry.ts. */
  family: string;
  /** Overrides of the family's config fields. Default {}. */
  familyConfig?: Record<string, unknown>;
  /** A registry name ('mnist'), an IDX images path, or an already loaded dataset. */
  dataset: string | Dataset;
  /** How to load a dataset given by name or path (labels file, class names, limit). Default {}. */
  datasetOptions?: Omit<LoadDatasetOptions, 'dataset'>;
  /** Whole passes over the data. Default 5 (ignored when `steps` is given). */
  epochs?: number;
  /** Total generator updates to reach; overrides `epochs`. Default: epochs × steps per epoch. */
  steps?: number;
  /** Images per batch. Default 64. */
  batchSize?: number;
  /**
   * A named bundle of the options below (train/presets.ts: 'wgan', 'wgan-gp', ...); options given explicitly win.
   * Default none.
   */
  preset?: string;
  /** Optimizer of both sides (train/optimizers/registry.ts: adam, rmsprop, sgd). Default 'adam'. */
  optimizer?: string;
  /** Learning rate of the generator. Default 2e-4. */
  learningRateGenerator?: number;
  /** Learning rate of the discriminator. Default 2e-4. */
  learningRateDiscriminator?: number;
  /** Learning-rate schedule of both sides (train/optimizers/schedule.ts), e.g. 'cosine', 'step:1000:0.5'. Default 'constant'. */
  lrSchedule?: string;
  /** Adam β1 for both (0.5 per DCGAN; 0.9 oscillates more). Default 0.5. */
  beta1?: number;
  /** Adam β2. Default 0.999. */
  beta2?: number;
  /** SGD and RMSProp momentum. Default 0. */
  momentum?: number;
  /** RMSProp ρ. Default 0.9. */
  rho?: number;
  /** Adam and RMSProp ε. Default tfjs's (1e-7). */
  epsilon?: number;
  /** One-sided label smoothing: real targets 1 − this (0.1 → 0.9); logit losses only. Default 0. */
  labelSmoothing?: number;
  /** WGAN-GP gradient penalty weight λ (0 = off). Default 0. */
  gradientPenalty?: number;
  /** WGAN critic weight clipping bound c (0 = off). Default 0. */
  weightClip?: number;
  /** Decay of an exponential moving average of G's weights, sampled and exported when on (0 = off). Default 0. */
  generatorEma?: number;
  /** Width of the latent z. Default 100. */
  latentDim?: number;
  /** Adversarial loss (train/losses/registry.ts: non-saturating, minimax, wasserstein, hinge). Default 'non-saturating'. */
  loss?: string;
  /** Discriminator updates per generator update (k in Goodfellow et al., Algorithm 1). Default 1. */
  discriminatorSteps?: number;
  /** Seed of weight initialisation, batch order and latents. Default 0. */
  seed?: number;
  /** The run folder (runs/<run>): checkpoints, latest.json, metrics.jsonl, samples/. */
  outDir: string;
  /** Also write a sample grid every this many steps (0 = only at epoch ends). Default 0. */
  sampleEvery?: number;
  /** Also checkpoint every this many steps (0 = only at epoch ends and at the end). Default 0. */
  checkpointEvery?: number;
  /** Complete checkpoints kept on disk (0 = all). Default 3. */
  keepCheckpoints?: number;
  /**
   * Also keep the checkpoint with the best value of this eval metric (evalEvery) and point best.json at it, for
   * `ganforge export --best`; null = none. Default 'frechetDistance'.
   */
  keepBest?: BestMetric | null;
  /**
   * Continue from outDir's latest complete checkpoint exactly: weights, optimizer state, step (so data order, latents,
   * dropout masks and the learning-rate schedule's position follow). Default false.
   */
  resume?: boolean;
  /** Aborting saves a checkpoint at the current step, then trainGan resolves with aborted = true. */
  signal?: AbortSignal;
  /** Progress bar on stderr (false = none). Default true. */
  progress?: boolean | Omit<ProgressOptions, 'total' | 'label'>;
  /** The command line that started the run, recorded in the sidecar. Default ''. */
  command?: string;
  /** Called after every step with its metrics (tests, custom logging). */
  onStep?: (metrics: StepMetrics) => void;
  /** Run the eval protocol (MNIST judge, 1,000 samples) every this many steps and at the end; 0 = never. Default 0. */
  evalEvery?: number;
  /** Watch for a won discriminator, mode collapse and divergence (train/observers/diagnoses.ts); false = off. Default true. */
  diagnoses?: boolean | DiagnosesOptions;
  /** Called with each warning a diagnosis raises (they are also written to diagnoses.jsonl). Default: printed on stderr. */
  onWarning?: (diagnosis: Diagnosis) => void;
  /** Write the run's curves into <run>/plots/ at every checkpoint (SVG and PNG). Default true. */
  plots?: boolean;
  /** More observers of the run (train/observers/observer.ts), after the built-in ones. Default []. */
  observers?: TrainingObserver[];
}

export type { StepMetrics } from './step-metrics.ts';

export interface TrainGanResult {
  runDir: string;
  /** The last checkpoint written. */
  checkpointDir: string;
  step: number;
  /** Whole epochs completed. */
  epoch: number;
  /** True when stopped by the AbortSignal. */
  aborted: boolean;
  /** Metrics of the last step (null when no step ran). */
  metrics: StepMetrics | null;
  /** Sample grids written, in order. */
  samples: string[];
  backend: string;
  durationSeconds: number;
  /** Warnings the diagnoses raised, in order. */
  warnings: Diagnosis[];
  /** The last eval record (with evalEvery), else null. */
  eval: EvalRecord | null;
  /** What the end-of-run summary says (also in <run>/summary.json). */
  summary: RunSummary;
  /** On resume: what did not continue exactly (checkpoints skipped as corrupt, optimizer moments restarted); also on stderr. */
  resumeNotices?: string[];
}

/** Seed of the fixed latents behind every sample grid (the same grid cells across epochs show the same z). */
export const SAMPLE_SEED = 20240601;
const SAMPLE_COLUMNS = 8;

/** Builds a family's generator and discriminator for a dataset. */
export function buildGanPair(family: GanFamily<object>, config: Record<string, unknown>, context: BuildContext): { generator: tf.LayersModel; discriminator: tf.LayersModel } {
  return { generator: family.buildGenerator(config, context), discriminator: family.buildDiscriminator(config, context) };
}

/** Trains a GAN as described by `options`; resolves when done or aborted, rejects with NAN_LOSS on divergence. */
export async function trainGan(options: TrainGanOptions): Promise<TrainGanResult> {
  const o = validateOptions(options);
  const family = getFamily(o.family);
  if (family.objective === 'variational') {
    throw new InvalidParameterError('family', `family '${family.name}' is variational (a VAE): train it with train() from train/train.ts, which runs train/vae-trainer.ts`);
  }
  const familyConfig = resolveFamilyConfig(family, o.familyConfig);
  const dataset = typeof o.dataset === 'string' ? await loadDataset({ dataset: o.dataset, ...o.datasetOptions }) : o.dataset;
  const [count, height, width, channels] = dataset.shape;
  if (family.conditional && (dataset.labels === null || dataset.classes === null)) {
    throw new InvalidParameterError('dataset', `family '${family.name}' is conditional and needs labels; dataset '${dataset.name}' has none (give a labels file)`);
  }
  const batchesPerEpoch = Math.floor(count / o.batchSize);
  const stepsPerEpoch = Math.floor(batchesPerEpoch / o.discriminatorSteps);
  if (stepsPerEpoch < 1) {
    throw new RangeError(`'batchSize' × 'discriminatorSteps' (${o.batchSize} × ${o.discriminatorSteps}) must not exceed the dataset size ${count}`);
  }
  const totalSteps = o.steps ?? o.epochs * stepsPerEpoch;
  const numClasses = family.conditional ? dataset.classes!.length : null;
  const context: BuildContext = { imageShape: [height, width, channels], numClasses, latentDim: o.latentDim, seed: o.seed };
  const runDir = resolve(o.outDir);
  await mkdir(join(runDir, 'samples'), { recursive: true });

  let startStep = 0;
  let previousSeconds = 0;
  let pair: { generator: tf.LayersModel; discriminator: tf.LayersModel };
  let restoredGeneratorEma: tf.LayersModel | undefined;
  let restoredOptimizer: { state: OptimizerState | null; dir: string } | null = null;
  const resumeNotices: string[] = [];
  const notice = (message: string) => {
    resumeNotices.push(message);
    process.stderr.write(`warning: ${message}\n`);
  };
  if (o.resume) {
    const loaded = await loadCheckpoint(runDir, { onSkip: notice });
    restoredOptimizer = { state: loaded.optimizerState, dir: loaded.dir };
    if (loaded.sidecar.family !== family.name) {
      throw new InvalidParameterError('family', `cannot resume run ${runDir}: it trains family '${loaded.sidecar.family}', not '${family.name}'`);
    }
    pair = { generator: loaded.generator, discriminator: loaded.discriminator };
    // The EMA generator continues from the checkpoint (not re-cloned from G); a run resumed without --ema drops it.
    if (loaded.generatorEma && o.generatorEma > 0) restoredGeneratorEma = loaded.generatorEma;
    else loaded.generatorEma?.dispose();
    startStep = loaded.sidecar.step;
    previousSeconds = loaded.sidecar.durationSeconds;
    // A run killed after its last checkpoint logged steps past it; they are trained again, so their lines go.
    await truncateLogs(runDir, startStep);
  } else {
    pair = buildGanPair(family, familyConfig, context);
  }
  const stepper = new GanStepper({
    ...pair, numClasses, latentDim: o.latentDim, loss: o.loss, optimizer: o.optimizer, learningRateGenerator: o.learningRateGenerator,
    learningRateDiscriminator: o.learningRateDiscriminator, beta1: o.beta1, beta2: o.beta2, momentum: o.momentum, rho: o.rho,
    ...(o.epsilon === undefined ? {} : { epsilon: o.epsilon }), seed: o.seed, labelSmoothing: o.labelSmoothing,
    techniques: Object.fromEntries(TECHNIQUE_OPTIONS.map((name) => [name, o[name]])),
    classLossWeight: family.auxiliaryClassifier === true ? classLossWeightOf(family, familyConfig) : null,
    ...(restoredGeneratorEma ? { restoredGeneratorEma } : {}),
  });
  if (restoredOptimizer !== null) {
    const { state, dir } = restoredOptimizer;
    const mismatch = state === null ? 'it has no optimizer state (saved before ganforge kept it)' : await stepper.restoreOptimizerState(state);
    if (mismatch !== null) notice(`resuming from ${dir}: ${mismatch}; the ${o.optimizer} optimizer state (moments, step count) restarts from zero`);
  }
  const schedule = parseSchedule(o.lrSchedule);
  const backend = tf.getBackend();
  const started = performance.now();
  const seconds = () => previousSeconds + (performance.now() - started) / 1000;
  const metricsLog = createWriteStream(join(runDir, 'metrics.jsonl'), { flags: o.resume ? 'a' : 'w' });
  const samples: string[] = [];
  let step = startStep;
  let last: StepMetrics | null = null;
  let checkpointDir = '';

  const sidecar = (): RunSidecar => ({
    format: SIDECAR_FORMAT,
    family: family.name,
    familyConfig,
    dataset: portablePath(dataset.name, runDir), // a dataset path is recorded relative to the run folder
    classes: family.conditional ? dataset.classes : null,
    imageShape: [height, width, channels],
    valueRange: [-1, 1],
    latentDim: o.latentDim,
    step,
    epoch: Math.floor(step / stepsPerEpoch),
    batchSize: o.batchSize,
    seed: o.seed,
    backend,
    loss: o.loss,
    learningRates: { generator: o.learningRateGenerator, discriminator: o.learningRateDiscriminator },
    training: {
      optimizer: o.optimizer, beta1: o.beta1, beta2: o.beta2, momentum: o.momentum, rho: o.rho, epsilon: o.epsilon ?? null,
      lrSchedule: formatSchedule(schedule), discriminatorSteps: o.discriminatorSteps, labelSmoothing: o.labelSmoothing,
      gradientPenalty: o.gradientPenalty, weightClip: o.weightClip, generatorEma: o.generatorEma, preset: o.preset || null,
    },
    command: o.command,
    durationSeconds: Math.round(seconds() * 10) / 10,
    savedAt: new Date().toISOString(),
    metrics: last === null ? {} : Object.fromEntries(Object.entries(last).filter(([k, v]) => k !== 'step' && k !== 'epoch' && typeof v === 'number')),
    ...(record.lastEval() === null ? {} : { eval: record.lastEval()! }),
  });
  const save = async () => {
    // A technique's sampling generator (the EMA average) is checkpointed beside the trained pair.
    const average = stepper.samplingGenerator();
    checkpointDir = await saveCheckpoint({
      runDir, ...pair, generatorEma: average === pair.generator ? null : average, sidecar: sidecar(), keep: o.keepCheckpoints,
      optimizerState: await stepper.optimizerState(), keepBest: o.keepBest,
    });
    for (const observer of observers) await observer.onCheckpoint?.(checkpointDir, run);
  };
  const writeSamples = async (name: string) => {
    const path = join(runDir, 'samples', `${name}.png`);
    await writeFileAtomic(path, encodePng(sampleGrid(stepper.samplingGenerator(), context, numClasses)));
    samples.push(path);
  };

  const record = createRunView({
    runDir, totalSteps, backend, context, numClasses, step: () => step, samplingGenerator: () => stepper.samplingGenerator(),
    metricsLog, onWarning: o.onWarning, observers: () => observers,
  });
  const run = record.view;
  const { warnings } = record;
  const observers: TrainingObserver[] = [
    activeRunObserver(),
    ...(o.diagnoses === false ? [] : [diagnosesObserver(o.diagnoses === true ? {} : o.diagnoses)]),
    ...(o.evalEvery > 0 ? [evalEveryObserver({ every: o.evalEvery })] : []),
    ...(o.plots ? [plotsObserver({ flush: () => new Promise<void>((r) => { if (metricsLog.writableNeedDrain) metricsLog.once('drain', r); else metricsLog.write('', () => r()); }) })] : []),
    ...o.observers,
  ];

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
      const bar = o.progress === false ? null : new ProgressBar({ total: epochEnd - (epoch - 1) * stepsPerEpoch, label: `epoch ${epoch}/${Math.ceil(totalSteps / stepsPerEpoch)}`, ...o.progress });
      const epochTimer = performance.now();
      while (step < epochEnd) {
        if (o.signal?.aborted) { aborted = true; break; }
        const inEpoch = step - (epoch - 1) * stepsPerEpoch;
        stepper.setLearningRateFactor(scheduleFactor(schedule, step, totalSteps));
        let d: DiscriminatorStepMetrics = { dLoss: 0, dReal: 0, dFake: 0, gradNormD: 0 };
        for (let j = 0; j < o.discriminatorSteps; j++) {
          const batch = inEpoch * o.discriminatorSteps + j;
          const batchIndices = order.subarray(batch * o.batchSize, (batch + 1) * o.batchSize);
          // readImages: in memory a copy, for a large image folder positioned reads from its disk cache.
          dataset.readImages(batchIndices, realBuffer);
          if (dataset.labels) for (let b = 0; b < o.batchSize; b++) labelBuffer[b] = dataset.labels[batchIndices[b]!]!;
          const real = tf.tensor4d(realBuffer, [o.batchSize, height, width, channels]);
          const labels = numClasses === null ? null : tf.tensor2d(labelBuffer, [o.batchSize, 1], 'int32');
          try {
            d = stepper.trainDiscriminatorStep(real, labels, 2 * (step * o.discriminatorSteps + j));
          } finally {
            real.dispose();
            labels?.dispose();
          }
        }
        const g: GeneratorStepMetrics = stepper.trainGeneratorStep(o.batchSize, 2 * step + 1);
        step += 1;
        const elapsed = (performance.now() - epochTimer) / 1000;
        last = { step, epoch, ...d, ...g, stepsPerSecond: (step - epochStart) / Math.max(elapsed, 1e-9) };
        if (!Object.values(last).every(Number.isFinite)) {
          throw new GanforgeError('NAN_LOSS',
            `training diverged at step ${step} (epoch ${epoch}): D loss ${last.dLoss}, G loss ${last.gLoss}; ` +
            `${checkpointDir ? `the last good checkpoint is ${checkpointDir}` : 'no checkpoint was saved before it'}; try lower learning rates`);
        }
        metricsLog.write(`${JSON.stringify({ ...last, time: Math.round(seconds() * 1000) / 1000 })}\n`);
        o.onStep?.(last);
        for (const observer of observers) await observer.onStep?.(last, run);
        bar?.update(step - (epoch - 1) * stepsPerEpoch, describeMetrics(last));
        if (o.sampleEvery > 0 && step % o.sampleEvery === 0) await writeSamples(`step-${String(step).padStart(6, '0')}`);
        if (record.takeCheckpointRequest() || (o.checkpointEvery > 0 && step % o.checkpointEvery === 0)) await save();
        // Let SIGINT handlers and pending I/O run: training steps are synchronous on wasm/cpu.
        await new Promise((r) => setImmediate(r));
      }
      if (last !== null) bar?.finish(step - (epoch - 1) * stepsPerEpoch, describeMetrics(last));
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
    durationSeconds: seconds(), warnings, eval: record.lastEval(), resumeNotices,
  };
  const summary = summarizeRun(finished, { steps: step - startStep, seconds: (performance.now() - started) / 1000 });
  await writeFileAtomic(join(runDir, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  return { ...finished, summary };
}

/** Drops the lines of metrics.jsonl and eval.jsonl logged after `step` (rewritten atomically; absent files are left). */
export async function truncateLogs(runDir: string, step: number): Promise<void> {
  for (const name of ['metrics.jsonl', 'eval.jsonl']) {
    let text: string;
    try {
      text = await readFile(join(runDir, name), 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    const kept = lines.filter((line) => {
      try {
        const logged = (JSON.parse(line) as { step?: unknown }).step;
        return typeof logged !== 'number' || logged <= step;
      } catch {
        return false; // a line torn by the kill
      }
    });
    if (kept.length !== lines.length) await writeFileAtomic(join(runDir, name), kept.map((l) => `${l}\n`).join(''));
  }
}

/** Renders the fixed-latent grid in inference mode (BN moving statistics), exactly as the exported ONNX computes. */
export function sampleGrid(generator: tf.LayersModel, context: BuildContext, numClasses: number | null): ReturnType<typeof tileImages> {
  const [height, width, channels] = context.imageShape;
  const rows = numClasses === null ? SAMPLE_COLUMNS : Math.min(numClasses, 20);
  const count = rows * SAMPLE_COLUMNS;
  const latents = sampleLatents({ latentDim: context.latentDim, count: SAMPLE_COLUMNS * (numClasses === null ? rows : 1), seed: SAMPLE_SEED });
  const pixels = tf.tidy(() => {
    // Conditional grids: row r is class r, column c reuses latent c, so a column shows one style across classes.
    const z = numClasses === null
      ? tf.tensor2d(latents, [count, context.latentDim])
      : tf.tile(tf.tensor2d(latents, [SAMPLE_COLUMNS, context.latentDim]), [rows, 1]);
    const labels = numClasses === null ? null
      : tf.tensor2d(Int32Array.from({ length: count }, (_, k) => Math.floor(k / SAMPLE_COLUMNS)), [count, 1], 'int32');
    return generator.predict(labels ? [z, labels] : z) as tf.Tensor;
  });
  const data = pixels.dataSync();
  pixels.dispose();
  return tileImages(data, [count, height, width, channels], [-1, 1], { columns: SAMPLE_COLUMNS });
}

function describeMetrics(m: StepMetrics): string {
  const classes = m.dClassAccuracy === undefined ? '' : ` cls D ${m.dClassLoss!.toFixed(3)} G ${m.gClassLoss!.toFixed(3)} acc ${(100 * m.dClassAccuracy).toFixed(0)}%`;
  const scores = m.wassersteinEstimate === undefined
    ? `D(x) ${m.dReal.toFixed(2)} D(G(z)) ${m.dFake.toFixed(2)}`
    : `W ${m.wassersteinEstimate.toFixed(3)}${m.gradientPenalty === undefined ? '' : ` GP ${m.gradientPenalty.toFixed(3)}`}`;
  return `D ${m.dLoss.toFixed(3)} G ${m.gLoss.toFixed(3)} ${scores}${classes} ${m.stepsPerSecond.toFixed(1)} step/s`;
}

/** An auxiliary-classifier family's class-loss weight from its config (the contract in family.ts). */
function classLossWeightOf(family: GanFamily<object>, config: Record<string, unknown>): number {
  const weight = config.classLossWeight ?? 1;
  if (typeof weight !== 'number') throw new TypeError(`family '${family.name}' config 'classLossWeight' must be a number, got ${JSON.stringify(weight)}`);
  if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`family '${family.name}' config 'classLossWeight' must be a finite number ≥ 0, got ${weight}`);
  return weight;
}

export function shuffledIndices(count: number, random: SeededRandom): Int32Array {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.nextOpenUnit() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

type ResolvedOptions = Required<Omit<TrainGanOptions, 'steps' | 'signal' | 'onStep' | 'progress' | 'epsilon' | 'onWarning'>> &
  Pick<TrainGanOptions, 'steps' | 'signal' | 'onStep' | 'epsilon' | 'onWarning'> & { progress: false | Omit<ProgressOptions, 'total' | 'label'> };

function validateOptions(given: TrainGanOptions): ResolvedOptions {
  if (typeof given !== 'object' || given === null) throw new TypeError('trainGan: options must be an object');
  // A preset fills the options the caller left out (its family config merged under the caller's).
  const options = applyPreset(given);
  const o: ResolvedOptions = {
    preset: options.preset ?? '',
    optimizer: options.optimizer ?? 'adam',
    lrSchedule: options.lrSchedule ?? 'constant',
    beta2: options.beta2 ?? 0.999,
    momentum: options.momentum ?? 0,
    rho: options.rho ?? 0.9,
    epsilon: options.epsilon,
    labelSmoothing: options.labelSmoothing ?? 0,
    gradientPenalty: options.gradientPenalty ?? 0,
    weightClip: options.weightClip ?? 0,
    generatorEma: options.generatorEma ?? 0,
    family: options.family,
    familyConfig: options.familyConfig ?? {},
    dataset: options.dataset,
    datasetOptions: options.datasetOptions ?? {},
    epochs: options.epochs ?? 5,
    steps: options.steps,
    batchSize: options.batchSize ?? 64,
    learningRateGenerator: options.learningRateGenerator ?? 2e-4,
    learningRateDiscriminator: options.learningRateDiscriminator ?? 2e-4,
    beta1: options.beta1 ?? 0.5,
    latentDim: options.latentDim ?? 100,
    loss: options.loss ?? 'non-saturating',
    discriminatorSteps: options.discriminatorSteps ?? 1,
    seed: options.seed ?? 0,
    outDir: options.outDir,
    sampleEvery: options.sampleEvery ?? 0,
    checkpointEvery: options.checkpointEvery ?? 0,
    keepCheckpoints: options.keepCheckpoints ?? 3,
    keepBest: options.keepBest === undefined ? 'frechetDistance' : options.keepBest,
    resume: options.resume ?? false,
    signal: options.signal,
    progress: options.progress === false ? false : options.progress === true || options.progress === undefined ? {} : options.progress,
    command: options.command ?? '',
    onStep: options.onStep,
    evalEvery: options.evalEvery ?? 0,
    plots: options.plots ?? true,
    diagnoses: options.diagnoses ?? true,
    onWarning: options.onWarning,
    observers: options.observers ?? [],
  };
  if (typeof o.family !== 'string') throw new TypeError(`'family' must be a string, got ${typeof o.family}`);
  if (typeof o.outDir !== 'string' || o.outDir === '') throw new TypeError(`'outDir' must be a non-empty string, got ${String(o.outDir)}`);
  integer('epochs', o.epochs, 1);
  if (o.steps !== undefined) integer('steps', o.steps, 1);
  integer('batchSize', o.batchSize, 1);
  integer('latentDim', o.latentDim, 1);
  integer('discriminatorSteps', o.discriminatorSteps, 1);
  integer('sampleEvery', o.sampleEvery, 0);
  integer('checkpointEvery', o.checkpointEvery, 0);
  integer('keepCheckpoints', o.keepCheckpoints, 0);
  if (o.keepBest !== null && !Object.hasOwn(BEST_METRICS, o.keepBest)) {
    throw new InvalidParameterError('keepBest', `'keepBest' must be one of ${Object.keys(BEST_METRICS).join(', ')} or null, got ${JSON.stringify(o.keepBest)}`);
  }
  integer('evalEvery', o.evalEvery, 0);
  positive('learningRateGenerator', o.learningRateGenerator);
  positive('learningRateDiscriminator', o.learningRateDiscriminator);
  if (typeof o.beta1 !== 'number' || !(o.beta1 >= 0 && o.beta1 < 1)) throw new RangeError(`'beta1' must be a number in [0, 1), got ${String(o.beta1)}`);
  getLoss(o.loss);
  const optimizer = getOptimizer(o.optimizer);
  parseSchedule(o.lrSchedule);
  if (typeof o.beta2 !== 'number' || !(o.beta2 >= 0 && o.beta2 < 1)) throw new RangeError(`'beta2' must be a number in [0, 1), got ${String(o.beta2)}`);
  if (typeof o.momentum !== 'number' || !(o.momentum >= 0 && o.momentum < 1)) throw new RangeError(`'momentum' must be a number in [0, 1), got ${String(o.momentum)}`);
  if (typeof o.rho !== 'number' || !(o.rho > 0 && o.rho < 1)) throw new RangeError(`'rho' must be a number in (0, 1), got ${String(o.rho)}`);
  if (o.epsilon !== undefined) positive('epsilon', o.epsilon);
  // An optimizer parameter given for an optimizer that does not read it would silently do nothing.
  for (const [name, isSet] of [['beta2', given.beta2 !== undefined], ['momentum', given.momentum !== undefined], ['rho', given.rho !== undefined], ['epsilon', given.epsilon !== undefined]] as const) {
    if (isSet && !optimizer.reads.includes(name)) {
      throw new InvalidParameterError(name, `'${name}' does nothing with optimizer '${optimizer.name}', which reads ${optimizer.reads.join(', ')}`);
    }
  }
  for (const name of ['labelSmoothing', 'gradientPenalty', 'weightClip', 'generatorEma'] as const) {
    const value = o[name];
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new RangeError(`'${name}' must be a finite number ≥ 0 (0 = off), got ${String(value)}`);
  }
  assertSeed(o.seed);
  return o;
}

function integer(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number') throw new TypeError(`'${name}' must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`'${name}' must be an integer ≥ ${min}, got ${value}`);
}

function positive(name: string, value: unknown): void {
  if (typeof value !== 'number') throw new TypeError(`'${name}' must be a number, got ${typeof value}`);
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`'${name}' must be a positive finite number, got ${value}`);
}
