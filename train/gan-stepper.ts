// One training step of a generator/discriminator pair: a discriminator update and a generator update with real tfjs
// gradients, each touching only its own side. What the step computes is assembled from registries, never from branches
// here: the adversarial loss (train/losses/), the optimizers and their learning rates (train/optimizers/), and the
// techniques that add a penalty, constrain weights or average the generator (train/techniques/).

import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../common/errors.ts';
import { SeededRandom } from '../common/random.ts';
import { PassSeeds } from './pass-seeds.ts';
import type { AdversarialLoss } from './losses/loss.ts';
import { getLoss } from './losses/registry.ts';
import type { OptimizerKind, OptimizerSettings } from './optimizers/optimizer.ts';
import { getOptimizer } from './optimizers/registry.ts';
import { captureOptimizerState, optimizerStateMismatch, restoreOptimizerState, type OptimizerSide, type OptimizerState } from './optimizers/state.ts';
import { createTechniques, type TechniqueOptions } from './techniques/registry.ts';
import type { TechniqueMetricName, TrainingTechnique } from './techniques/technique.ts';
import { registerTileGradient } from './tile-gradient.ts';

// LayerNormalization critics tile per-sample statistics; tfjs-core's Tile gradient costs one kernel per copy.
registerTileGradient();

export interface GanStepperOptions {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  /** Class count of a conditional pair; null for unconditional. */
  numClasses: number | null;
  latentDim: number;
  /** Adversarial loss name (train/losses/registry.ts). */
  loss: string;
  /** Optimizer of both sides (train/optimizers/registry.ts). Default 'adam'. */
  optimizer?: string;
  learningRateGenerator: number;
  learningRateDiscriminator: number;
  /** Adam β1. */
  beta1: number;
  /** Adam β2. Default 0.999. */
  beta2?: number;
  /** SGD/RMSProp momentum. Default 0. */
  momentum?: number;
  /** RMSProp ρ. Default 0.9. */
  rho?: number;
  /** Adam/RMSProp ε. Default tfjs's backend epsilon. */
  epsilon?: number;
  seed: number;
  /**
   * Weight of the auxiliary class loss when the discriminator returns [logit, class logits] (AC-GAN); null when it
   * returns the logit alone. Default null.
   */
  classLossWeight?: number | null;
  /** One-sided label smoothing: the real batch's target is 1 − this (0.1 → 0.9). Logit losses only. Default 0. */
  labelSmoothing?: number;
  /** Techniques to attach (gradient penalty, weight clipping, generator EMA); 0 or absent = off. Default {}. */
  techniques?: Partial<TechniqueOptions>;
  /** On resume: the EMA generator from the checkpoint, continued by the generatorEma technique (which then owns it). Default none. */
  restoredGeneratorEma?: tf.LayersModel;
}

/** Numbers techniques report, under their own names. */
export type TechniqueMetrics = Partial<Record<TechniqueMetricName, number>>;

/** What one discriminator update reports; the class fields only for an auxiliary-classifier discriminator. */
export interface DiscriminatorStepMetrics extends TechniqueMetrics {
  /** D's adversarial loss (penalties and the class loss are reported apart). */
  dLoss: number;
  /** Mean D(x): sigmoid of the logit for logit losses, the raw critic score for critic losses (WGAN, hinge). */
  dReal: number;
  /** Mean D(G(z)), as dReal. */
  dFake: number;
  /** Critic losses: mean C(x) − mean C(G(z)), the critic's estimate of the Wasserstein distance. */
  wassersteinEstimate?: number;
  /** Global L2 norm of the gradient of D's whole loss over D's weights. */
  gradNormD: number;
  dClassLoss?: number;
  dClassAccuracy?: number;
}

export interface GeneratorStepMetrics {
  /** G's adversarial loss. */
  gLoss: number;
  /** Global L2 norm of the gradient of G's loss over G's weights (near 0 when D has won: vanishing gradients). */
  gradNormG: number;
  gClassLoss?: number;
}

/**
 * One generator/discriminator pair with an optimizer per side. Each update touches only its own side: gradients are
 * taken with respect to that side's trainable variables, and the other side's BatchNorm moving statistics, which a
 * training-mode forward pass would otherwise move, are restored bit for bit.
 */
export class GanStepper {
  readonly generator: tf.LayersModel;
  readonly discriminator: tf.LayersModel;
  readonly loss: AdversarialLoss;
  readonly optimizerKind: OptimizerKind;
  readonly optimizerG: tf.Optimizer;
  readonly optimizerD: tf.Optimizer;
  readonly techniques: readonly TrainingTechnique[];
  private readonly options: GanStepperOptions;
  private readonly generatorVariables: tf.Variable[];
  private readonly discriminatorVariables: tf.Variable[];
  private readonly classLossWeight: number | null;
  private readonly realTarget: number;
  private readonly passSeeds: PassSeeds;

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
    this.loss = getLoss(options.loss);
    const smoothing = options.labelSmoothing ?? 0;
    if (!(smoothing >= 0 && smoothing < 0.5)) throw new InvalidParameterError('labelSmoothing', `'labelSmoothing' must be in [0, 0.5), got ${smoothing}`);
    if (smoothing > 0 && !this.loss.supportsLabelSmoothing) {
      throw new InvalidParameterError('labelSmoothing', `label smoothing applies to losses on probabilities (non-saturating, minimax), not to '${this.loss.name}'`);
    }
    this.realTarget = 1 - smoothing;
    this.generator = options.generator;
    this.discriminator = options.discriminator;
    this.optimizerKind = getOptimizer(options.optimizer ?? 'adam');
    const settings = (learningRate: number): OptimizerSettings => ({
      learningRate, beta1: options.beta1, beta2: options.beta2 ?? 0.999, momentum: options.momentum ?? 0, rho: options.rho ?? 0.9, epsilon: options.epsilon,
    });
    this.optimizerG = this.optimizerKind.create(settings(options.learningRateGenerator));
    this.optimizerD = this.optimizerKind.create(settings(options.learningRateDiscriminator));
    this.generatorVariables = this.generator.trainableWeights.map((w) => w.read() as tf.Variable);
    this.discriminatorVariables = this.discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
    this.passSeeds = new PassSeeds(options.seed, [this.generator, this.discriminator]);
    this.techniques = createTechniques(options.techniques ?? {}, {
      generator: this.generator, discriminator: this.discriminator, generatorVariables: this.generatorVariables,
      discriminatorVariables: this.discriminatorVariables, numClasses: options.numClasses, loss: this.loss, seed: options.seed,
      ...(options.restoredGeneratorEma ? { restoredGeneratorEma: options.restoredGeneratorEma } : {}),
    });
  }

  /** Scales both learning rates by `factor` from the next update on (learning-rate schedules); state is kept. */
  setLearningRateFactor(factor: number): void {
    this.optimizerKind.setLearningRate(this.optimizerG, this.options.learningRateGenerator * factor);
    this.optimizerKind.setLearningRate(this.optimizerD, this.options.learningRateDiscriminator * factor);
  }

  /** Both optimizers' state (moments, bias-correction products, update counts), for a checkpoint. */
  optimizerState(): Promise<OptimizerState> {
    return captureOptimizerState(this.optimizerKind.name, this.optimizerSides());
  }

  /** Puts a checkpoint's optimizer state back; returns why it does not fit (the moments then restart), else null. */
  async restoreOptimizerState(state: OptimizerState): Promise<string | null> {
    const sides = this.optimizerSides();
    const mismatch = optimizerStateMismatch(state, this.optimizerKind.name, sides);
    if (mismatch === null) await restoreOptimizerState(state, sides);
    return mismatch;
  }

  private optimizerSides(): { generator: OptimizerSide; discriminator: OptimizerSide } {
    return {
      generator: { optimizer: this.optimizerG, variables: this.generator.trainableWeights },
      discriminator: { optimizer: this.optimizerD, variables: this.discriminator.trainableWeights },
    };
  }

  /** The generator to sample and export: a technique's (the EMA copy) when one provides it, else the trained one. */
  samplingGenerator(): tf.LayersModel {
    for (const t of this.techniques) {
      const g = t.samplingGenerator?.();
      if (g) return g;
    }
    return this.generator;
  }

  /** One discriminator update on a real batch (and its labels when conditional). `key` picks the fake batch's z. */
  trainDiscriminatorStep(real: tf.Tensor4D, labels: tf.Tensor2D | null, key: number): DiscriminatorStepMetrics {
    const batchSize = real.shape[0];
    const auxiliary = this.classLossWeight !== null;
    if (auxiliary && labels === null) throw new RangeError('an auxiliary-classifier discriminator step needs the real batch\'s labels, got null');
    const kept = new KeptScalars();
    this.passSeeds.beginUpdate(key);
    try {
      tf.tidy(() => {
        const [z, fakeLabels] = this.latentBatch(batchSize, key);
        this.passSeeds.beforePass(this.generator);
        const fakes = withFrozenStatistics(this.generator, () =>
          this.generator.apply(fakeLabels ? [z, fakeLabels] : z, { training: true }) as tf.Tensor);
        // An auxiliary-classifier D sees the image alone; the label only enters its class loss.
        const realCondition = auxiliary ? null : labels;
        const fakeCondition = auxiliary ? null : fakeLabels;
        const { grads } = tf.variableGrads(() => {
          const realOut = this.discriminate(real, realCondition);
          const fakeOut = this.discriminate(fakes, fakeCondition);
          const adversarial = this.loss.discriminatorLoss(realOut.logits, fakeOut.logits, { realTarget: this.realTarget });
          kept.keep('dLoss', adversarial);
          const realScore = this.loss.output === 'logit' ? tf.sigmoid(realOut.logits).mean() : realOut.logits.mean();
          const fakeScore = this.loss.output === 'logit' ? tf.sigmoid(fakeOut.logits).mean() : fakeOut.logits.mean();
          kept.keep('dReal', realScore);
          kept.keep('dFake', fakeScore);
          if (this.loss.output === 'critic') kept.keep('wassersteinEstimate', tf.sub(realScore, fakeScore));
          let total: tf.Scalar = adversarial;
          for (const technique of this.techniques) {
            if (!technique.discriminatorPenalty) continue;
            const penalty = technique.discriminatorPenalty({
              critic: (images, condition) => this.discriminate(images, condition).logits,
              real, fake: fakes, realLabels: realCondition, fakeLabels: fakeCondition, key,
            });
            for (const [name, value] of Object.entries(penalty.metrics)) kept.keep(name, value);
            total = tf.add(total, penalty.loss);
          }
          if (!auxiliary) return total;
          const classLoss = tf.add(classCrossEntropy(realOut.classLogits!, labels!), classCrossEntropy(fakeOut.classLogits!, fakeLabels!)).div<tf.Scalar>(2);
          const correct = tf.equal(tf.argMax(realOut.classLogits!, 1), labels!.reshape([-1])).cast('float32').mean();
          kept.keep('dClassLoss', classLoss);
          kept.keep('dClassAccuracy', correct);
          return tf.add<tf.Scalar>(total, classLoss.mul(this.classLossWeight));
        }, this.discriminatorVariables);
        kept.keep('gradNormD', globalNorm(Object.values(grads)));
        this.optimizerD.applyGradients(grads);
      });
      for (const technique of this.techniques) technique.afterDiscriminatorUpdate?.();
      return kept.read() as unknown as DiscriminatorStepMetrics;
    } finally {
      this.passSeeds.endUpdate();
      kept.dispose();
    }
  }

  /** One generator update through the (untouched) discriminator. gLoss is the adversarial part; gClassLoss the class part. */
  trainGeneratorStep(batchSize: number, key: number): GeneratorStepMetrics {
    const auxiliary = this.classLossWeight !== null;
    const kept = new KeptScalars();
    this.passSeeds.beginUpdate(key);
    try {
      tf.tidy(() => {
        const [z, fakeLabels] = this.latentBatch(batchSize, key);
        const { grads } = tf.variableGrads(() => {
          this.passSeeds.beforePass(this.generator);
          const fakes = this.generator.apply(fakeLabels ? [z, fakeLabels] : z, { training: true }) as tf.Tensor;
          const { logits, classLogits } = withFrozenStatistics(this.discriminator, () => this.discriminate(fakes, auxiliary ? null : fakeLabels));
          const adversarial = this.loss.generatorLoss(logits);
          kept.keep('gLoss', adversarial);
          if (!auxiliary) return adversarial;
          // G is rewarded when D's classifier recognises the fake as the class it was asked to draw.
          const classLoss = classCrossEntropy(classLogits!, fakeLabels!);
          kept.keep('gClassLoss', classLoss);
          return tf.add<tf.Scalar>(adversarial, classLoss.mul(this.classLossWeight));
        }, this.generatorVariables);
        kept.keep('gradNormG', globalNorm(Object.values(grads)));
        this.optimizerG.applyGradients(grads);
      });
      for (const technique of this.techniques) technique.afterGeneratorUpdate?.();
      return kept.read() as unknown as GeneratorStepMetrics;
    } finally {
      this.passSeeds.endUpdate();
      kept.dispose();
    }
  }

  /** The discriminator in training mode; `label` is its second input (null for unconditional or auxiliary-classifier D). */
  private discriminate(images: tf.Tensor, label: tf.Tensor | null): { logits: tf.Tensor; classLogits: tf.Tensor | null } {
    this.passSeeds.beforePass(this.discriminator);
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
    for (const technique of this.techniques) technique.dispose?.();
    this.optimizerG.dispose();
    this.optimizerD.dispose();
  }
}

/**
 * Named scalars kept out of a tf.tidy (the optimizers dispose what the loss closure returns, hence the clones) and read
 * back with one download per scalar after the update.
 */
class KeptScalars {
  private readonly tensors = new Map<string, tf.Tensor>();
  keep(name: string, value: tf.Tensor): void {
    this.tensors.get(name)?.dispose();
    this.tensors.set(name, tf.keep(value.clone()));
  }
  read(): Record<string, number> {
    return Object.fromEntries([...this.tensors].map(([name, t]) => [name, t.dataSync()[0]!]));
  }
  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/** √(Σ‖g‖²) over a list of gradients. */
function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt<tf.Scalar>(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
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

/** A tfjs random seed (a plain number) for stream `key` of the run seed. */
export function streamSeed(seed: number, key: number): number {
  return new SeededRandom(seed, key).nextUint32();
}
