// The GAN training loop: alternating discriminator and generator updates with real tfjs gradients, seeded so a run can
// be repeated, checkpointed atomically so it can be stopped at any time, and logged (metrics.jsonl, per-epoch sample
// grids) so a run can be judged without opening a notebook. Runs on whatever tfjs backend is current
// (train/backend.ts selects it); this file imports '@tensorflow/tfjs' only.

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GanforgeError, InvalidParameterError } from '../common/errors.ts';
import { sampleLatents } from '../common/latents.ts';
import { tileImages } from '../common/pixels.ts';
import { encodePng } from '../common/png.ts';
import { SeededRandom, assertSeed } from '../common/random.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { loadDataset, type Dataset, type LoadDatasetOptions } from './dataset/registry.ts';
import type { BuildContext, GanFamily } from './models/family.ts';
import { getFamily, resolveFamilyConfig } from './models/registry.ts';
import { portablePath } from './portable-paths.ts';
import { ProgressBar, type ProgressOptions } from './progress.ts';
import { SIDECAR_FORMAT, type RunSidecar } from './run-sidecar.ts';

export const GAN_LOSSES = ['non-saturating', 'minimax'] as const;
/** Generator loss: 'non-saturating' minimises −log D(G(z)) (strong early gradients); 'minimax' minimises log(1 − D(G(z))). */
export type GanLoss = (typeof GAN_LOSSES)[number];

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
  /** Adam learning rate of the generator. Default 2e-4. */
  learningRateGenerator?: number;
  /** Adam learning rate of the discriminator. Default 2e-4. */
  learningRateDiscriminator?: number;
  /** Adam β1 for both (0.5 per DCGAN; 0.9 oscillates more). Default 0.5. */
  beta1?: number;
  /** Width of the latent z. Default 100. */
  latentDim?: number;
  /** Generator loss. Default 'non-saturating'. */
  loss?: GanLoss;
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
  /** Continue from outDir's latest checkpoint (weights, step, epoch; Adam moments restart). Default false. */
  resume?: boolean;
  /** Aborting saves a checkpoint at the current step, then trainGan resolves with aborted = true. */
  signal?: AbortSignal;
  /** Progress bar on stderr (false = none). Default true. */
  progress?: boolean | Omit<ProgressOptions, 'total' | 'label'>;
  /** The command line that started the run, recorded in the sidecar. Default ''. */
  command?: string;
  /** Called after every step with its metrics (tests, custom logging). */
  onStep?: (metrics: StepMetrics) => void;
}

export interface StepMetrics {
  /** Generator updates done so far (1-based after the first step). */
  step: number;
  /** Epoch the step belongs to (1-based). */
  epoch: number;
  /** Discriminator loss: mean of the real and fake binary cross-entropies (ln 2 ≈ 0.693 at equilibrium). */
  dLoss: number;
  gLoss: number;
  /** Mean D(x) on the real batch (sigmoid of the logit; ≈0.5 at equilibrium). */
  dReal: number;
  /** Mean D(G(z)) on the fake batch seen by the discriminator step. */
  dFake: number;
  /** Steps per second over the epoch so far. */
  stepsPerSecond: number;
  /** Auxiliary-classifier families: D's class cross-entropy, mean over the real and the fake batch (ln 10 ≈ 2.30 untrained on 10 classes). */
  dClassLoss?: number;
  /** Auxiliary-classifier families: share of the real batch whose class D's classifier head gets right. */
  dClassAccuracy?: number;
  /** Auxiliary-classifier families: class cross-entropy of G's fakes for the labels they were generated for (in gLoss weighted). */
  gClassLoss?: number;
}

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
}

/** Seed of the fixed latents behind every sample grid (the same grid cells across epochs show the same z). */
export const SAMPLE_SEED = 20240601;
const SAMPLE_COLUMNS = 8;

export interface GanStepperOptions {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  /** Class count of a conditional pair; null for unconditional. */
  numClasses: number | null;
  latentDim: number;
  loss: GanLoss;
  learningRateGenerator: number;
  learningRateDiscriminator: number;
  beta1: number;
  seed: number;
  /**
   * Weight of the auxiliary class loss when the discriminator returns [logit, class logits] (AC-GAN); null when it
   * returns the logit alone. Default null.
   */
  classLossWeight?: number | null;
}

/** What one discriminator update reports; the class fields only for an auxiliary-classifier discriminator. */
export interface DiscriminatorStepMetrics {
  dLoss: number;
  dReal: number;
  dFake: number;
  dClassLoss?: number;
  dClassAccuracy?: number;
}

/**
 * One generator/discriminator pair with its two Adam optimizers. Each update touches only its own side: gradients are
 * taken with respect to that side's trainable variables, and the other side's BatchNorm moving statistics, which a
 * training-mode forward pass would otherwise move, are restored bit for bit.
 */
export class GanStepper {
  readonly generator: tf.LayersModel;
  readonly discriminator: tf.LayersModel;
  private readonly options: GanStepperOptions;
  private readonly optimizerG: tf.Optimizer;
  private readonly optimizerD: tf.Optimizer;
  private readonly generatorVariables: tf.Variable[];
  private readonly discriminatorVariables: tf.Variable[];
  private readonly classLossWeight: number | null;

  constructor(options: GanStepperOptions) {
    this.options = options;
    this.classLossWeight = options.classLossWeight ?? null;
    const outputs = options.discriminator.outputs.length;
    if (outputs !== (this.classLossWeight === null ? 1 : 2)) {
      throw new RangeError(`the discriminator has ${outputs} outputs; 'classLossWeight' ${this.classLossWeight === null ? 'null needs 1 (the logit)' : 'set needs 2 (logit, class logits)'}`);
    }
    if (this.classLossWeight !== null) {
      if (options.numClasses === null) throw new RangeError(`an auxiliary classifier needs 'numClasses', got null`);
      if (!(this.classLossWeight >= 0) || !Number.isFinite(this.classLossWeight)) {
        throw new RangeError(`'classLossWeight' must be a finite number ≥ 0, got ${this.classLossWeight}`);
      }
    }
    this.generator = options.generator;
    this.discriminator = options.discriminator;
    this.optimizerG = tf.train.adam(options.learningRateGenerator, options.beta1, 0.999);
    this.optimizerD = tf.train.adam(options.learningRateDiscriminator, options.beta1, 0.999);
    this.generatorVariables = this.generator.trainableWeights.map((w) => w.read() as tf.Variable);
    this.discriminatorVariables = this.discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** One discriminator update on a real batch (and its labels when conditional). `key` picks the fake batch's z. */
  trainDiscriminatorStep(real: tf.Tensor4D, labels: tf.Tensor2D | null, key: number): DiscriminatorStepMetrics {
    const batchSize = real.shape[0];
    const auxiliary = this.classLossWeight !== null;
    if (auxiliary && labels === null) throw new RangeError('an auxiliary-classifier discriminator step needs the real batch\'s labels, got null');
    let kept: tf.Tensor[] = [];
    try {
      tf.tidy(() => {
        const [z, fakeLabels] = this.latentBatch(batchSize, key);
        const fakes = withFrozenStatistics(this.generator, () =>
          this.generator.apply(fakeLabels ? [z, fakeLabels] : z, { training: true }) as tf.Tensor);
        const { grads } = tf.variableGrads(() => {
          // An auxiliary-classifier D sees the image alone; the label only enters its class loss.
          const realOut = this.discriminate(real, auxiliary ? null : labels);
          const fakeOut = this.discriminate(fakes, auxiliary ? null : fakeLabels);
          // BCE(real → 1) and BCE(fake → 0) on logits: softplus(−l) and softplus(l).
          const adversarial = tf.add(tf.softplus(tf.neg(realOut.logits)).mean(), tf.softplus(fakeOut.logits).mean()).div<tf.Scalar>(2);
          kept = [tf.keep(adversarial.clone()), tf.keep(tf.sigmoid(realOut.logits).mean()), tf.keep(tf.sigmoid(fakeOut.logits).mean())];
          if (!auxiliary) return adversarial; // the optimizer disposes what it is given, hence the kept clone
          const classLoss = tf.add(classCrossEntropy(realOut.classLogits!, labels!), classCrossEntropy(fakeOut.classLogits!, fakeLabels!)).div<tf.Scalar>(2);
          const correct = tf.equal(tf.argMax(realOut.classLogits!, 1), labels!.reshape([-1])).cast('float32').mean();
          kept.push(tf.keep(classLoss), tf.keep(correct));
          return tf.add<tf.Scalar>(adversarial, classLoss.mul(this.classLossWeight));
        }, this.discriminatorVariables);
        this.optimizerD.applyGradients(grads);
      });
      const [dLoss, dReal, dFake, dClassLoss, dClassAccuracy] = readScalars(kept);
      return { dLoss: dLoss!, dReal: dReal!, dFake: dFake!, ...(auxiliary ? { dClassLoss: dClassLoss!, dClassAccuracy: dClassAccuracy! } : {}) };
    } finally {
      for (const t of kept) t.dispose();
    }
  }

  /** One generator update through the (untouched) discriminator. gLoss is the adversarial part; gClassLoss the class part. */
  trainGeneratorStep(batchSize: number, key: number): { gLoss: number; gClassLoss?: number } {
    const auxiliary = this.classLossWeight !== null;
    let kept: tf.Tensor[] = [];
    try {
      tf.tidy(() => {
        const [z, fakeLabels] = this.latentBatch(batchSize, key);
        this.optimizerG.minimize(() => {
          const fakes = this.generator.apply(fakeLabels ? [z, fakeLabels] : z, { training: true }) as tf.Tensor;
          const { logits, classLogits } = withFrozenStatistics(this.discriminator, () => this.discriminate(fakes, auxiliary ? null : fakeLabels));
          const adversarial = this.options.loss === 'non-saturating'
            ? tf.softplus(tf.neg(logits)).mean<tf.Scalar>() // −log D(G(z))
            : tf.neg(tf.softplus(logits)).mean<tf.Scalar>(); // log(1 − D(G(z)))
          kept = [tf.keep(adversarial.clone())];
          if (!auxiliary) return adversarial; // the optimizer disposes what it is given, hence the kept clone
          // G is rewarded when D's classifier recognises the fake as the class it was asked to draw.
          const classLoss = classCrossEntropy(classLogits!, fakeLabels!);
          kept.push(tf.keep(classLoss));
          return tf.add<tf.Scalar>(adversarial, classLoss.mul(this.classLossWeight));
        }, false, this.generatorVariables);
      });
      const [gLoss, gClassLoss] = readScalars(kept);
      return { gLoss: gLoss!, ...(auxiliary ? { gClassLoss: gClassLoss! } : {}) };
    } finally {
      for (const t of kept) t.dispose();
    }
  }

  /** The discriminator in training mode; `label` is its second input (null for unconditional or auxiliary-classifier D). */
  private discriminate(images: tf.Tensor, label: tf.Tensor | null): { logits: tf.Tensor; classLogits: tf.Tensor | null } {
    const out = this.discriminator.apply(label ? [images, label] : images, { training: true }) as tf.Tensor | tf.Tensor[];
    if (this.classLossWeight === null) return { logits: out as tf.Tensor, classLogits: null };
    const [logits, classLogits] = out as tf.Tensor[];
    return { logits: logits!, classLogits: classLogits! };
  }

  /** z ~ N(0, I) and uniform fake labels, both a function of (seed, key) so a resumed run draws the same batches. */
  private latentBatch(batchSize: number, key: number): [tf.Tensor2D, tf.Tensor2D | null] {
    const { latentDim, numClasses, seed } = this.options;
    const z = tf.randomNormal<tf.Rank.R2>([batchSize, latentDim], 0, 1, 'float32', streamSeed(seed, key));
    if (numClasses === null) return [z, null];
    const random = new SeededRandom(seed, key);
    const labels = Int32Array.from({ length: batchSize }, () => random.nextUint32() % numClasses);
    return [z, tf.tensor2d(labels, [batchSize, 1], 'int32')];
  }

  dispose(): void {
    this.optimizerG.dispose();
    this.optimizerD.dispose();
  }
}

/** Runs `fn` (a training-mode forward pass) and puts the model's non-trainable weights (BN moving stats) back. */
export function withFrozenStatistics<T>(model: tf.LayersModel, fn: () => T): T {
  const frozen = model.nonTrainableWeights;
  if (frozen.length === 0) return fn();
  const saved = frozen.map((w) => tf.clone(w.read()));
  try {
    return fn();
  } finally {
    frozen.forEach((w, i) => w.write(saved[i]!));
    for (const s of saved) s.dispose();
  }
}

/** Sparse softmax cross-entropy: class logits [B, K] against int32 labels [B, 1], mean over the batch. */
function classCrossEntropy(classLogits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const oneHot = tf.oneHot(labels.reshape<tf.Tensor1D>([-1]), classLogits.shape[1]!);
  return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(classLogits)), 1)).mean<tf.Scalar>();
}

function readScalars(tensors: tf.Tensor[]): number[] {
  return tensors.map((t) => t.dataSync()[0]!);
}

/** A tfjs random seed (a plain number) for stream `key` of the run seed. */
function streamSeed(seed: number, key: number): number {
  return new SeededRandom(seed, key).nextUint32();
}

/** Builds a family's generator and discriminator for a dataset. */
export function buildGanPair(family: GanFamily<object>, config: Record<string, unknown>, context: BuildContext): { generator: tf.LayersModel; discriminator: tf.LayersModel } {
  return { generator: family.buildGenerator(config, context), discriminator: family.buildDiscriminator(config, context) };
}

/** Trains a GAN as described by `options`; resolves when done or aborted, rejects with NAN_LOSS on divergence. */
export async function trainGan(options: TrainGanOptions): Promise<TrainGanResult> {
  const o = validateOptions(options);
  const family = getFamily(o.family);
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
  if (o.resume) {
    const loaded = await loadCheckpoint(runDir);
    if (loaded.sidecar.family !== family.name) {
      throw new InvalidParameterError('family', `cannot resume run ${runDir}: it trains family '${loaded.sidecar.family}', not '${family.name}'`);
    }
    pair = { generator: loaded.generator, discriminator: loaded.discriminator };
    startStep = loaded.sidecar.step;
    previousSeconds = loaded.sidecar.durationSeconds;
  } else {
    pair = buildGanPair(family, familyConfig, context);
  }
  const stepper = new GanStepper({
    ...pair, numClasses, latentDim: o.latentDim, loss: o.loss, learningRateGenerator: o.learningRateGenerator,
    learningRateDiscriminator: o.learningRateDiscriminator, beta1: o.beta1, seed: o.seed,
    classLossWeight: family.auxiliaryClassifier === true ? classLossWeightOf(family, familyConfig) : null,
  });
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
    command: o.command,
    durationSeconds: Math.round(seconds() * 10) / 10,
    savedAt: new Date().toISOString(),
    metrics: last === null ? {} : Object.fromEntries(Object.entries(last).filter(([k, v]) => k !== 'step' && k !== 'epoch' && typeof v === 'number')),
  });
  const save = async () => {
    checkpointDir = await saveCheckpoint({ runDir, ...pair, sidecar: sidecar(), keep: o.keepCheckpoints });
  };
  const writeSamples = async (name: string) => {
    const path = join(runDir, 'samples', `${name}.png`);
    await writeFileAtomic(path, encodePng(sampleGrid(pair.generator, context, numClasses)));
    samples.push(path);
  };

  const realBuffer = new Float32Array(o.batchSize * height * width * channels);
  const labelBuffer = new Int32Array(o.batchSize);
  let aborted = false;
  try {
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
        let d: DiscriminatorStepMetrics = { dLoss: 0, dReal: 0, dFake: 0 };
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
        const g = stepper.trainGeneratorStep(o.batchSize, 2 * step + 1);
        step += 1;
        const elapsed = (performance.now() - epochTimer) / 1000;
        last = { step, epoch, ...d, ...g, stepsPerSecond: (step - epochStart) / Math.max(elapsed, 1e-9) };
        if (![last.dLoss, last.gLoss, last.dReal, last.dFake, last.dClassLoss ?? 0, last.gClassLoss ?? 0].every(Number.isFinite)) {
          throw new GanforgeError('NAN_LOSS',
            `training diverged at step ${step} (epoch ${epoch}): D loss ${last.dLoss}, G loss ${last.gLoss}; ` +
            `${checkpointDir ? `the last good checkpoint is ${checkpointDir}` : 'no checkpoint was saved before it'}; try lower learning rates`);
        }
        metricsLog.write(`${JSON.stringify({ ...last, time: Math.round(seconds() * 1000) / 1000 })}\n`);
        o.onStep?.(last);
        bar?.update(step - (epoch - 1) * stepsPerEpoch, describeMetrics(last));
        if (o.sampleEvery > 0 && step % o.sampleEvery === 0) await writeSamples(`step-${String(step).padStart(6, '0')}`);
        if (o.checkpointEvery > 0 && step % o.checkpointEvery === 0) await save();
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
    stepper.dispose();
  }
  return {
    runDir, checkpointDir, step, epoch: Math.floor(step / stepsPerEpoch), aborted, metrics: last, samples, backend,
    durationSeconds: seconds(),
  };
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
  return `D ${m.dLoss.toFixed(3)} G ${m.gLoss.toFixed(3)} D(x) ${m.dReal.toFixed(2)} D(G(z)) ${m.dFake.toFixed(2)}${classes} ${m.stepsPerSecond.toFixed(1)} step/s`;
}

/** An auxiliary-classifier family's class-loss weight from its config (the contract in family.ts). */
function classLossWeightOf(family: GanFamily<object>, config: Record<string, unknown>): number {
  const weight = config.classLossWeight ?? 1;
  if (typeof weight !== 'number') throw new TypeError(`family '${family.name}' config 'classLossWeight' must be a number, got ${JSON.stringify(weight)}`);
  if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`family '${family.name}' config 'classLossWeight' must be a finite number ≥ 0, got ${weight}`);
  return weight;
}

function shuffledIndices(count: number, random: SeededRandom): Int32Array {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.nextOpenUnit() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

type ResolvedOptions = Required<Omit<TrainGanOptions, 'steps' | 'signal' | 'onStep' | 'progress'>> &
  Pick<TrainGanOptions, 'steps' | 'signal' | 'onStep'> & { progress: false | Omit<ProgressOptions, 'total' | 'label'> };

function validateOptions(options: TrainGanOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('trainGan: options must be an object');
  const o: ResolvedOptions = {
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
    resume: options.resume ?? false,
    signal: options.signal,
    progress: options.progress === false ? false : options.progress === true || options.progress === undefined ? {} : options.progress,
    command: options.command ?? '',
    onStep: options.onStep,
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
  positive('learningRateGenerator', o.learningRateGenerator);
  positive('learningRateDiscriminator', o.learningRateDiscriminator);
  if (typeof o.beta1 !== 'number' || !(o.beta1 >= 0 && o.beta1 < 1)) throw new RangeError(`'beta1' must be a number in [0, 1), got ${String(o.beta1)}`);
  if (!(GAN_LOSSES as readonly string[]).includes(o.loss)) throw new RangeError(`'loss' must be one of ${GAN_LOSSES.join(', ')}, got ${String(o.loss)}`);
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
