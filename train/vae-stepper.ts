// One training step of a VAE (Kingma & Welling 2014): encode a real batch to q(z | x) = N(μ, diag σ²), draw
// z = μ + σ·ε with ε ~ N(0, I) seeded from (seed, key) as the GAN trainer draws its latents (the reparameterisation
// trick: z is a differentiable function of μ and σ, so the reconstruction's gradient reaches the encoder), decode,
// and take one optimizer step on reconstruction + β·KL. The loss terms are exported on their own so tests can hold them
// against closed forms.

import * as tf from '@tensorflow/tfjs';
import { streamSeed } from './gan-stepper.ts';
import type { OptimizerKind, OptimizerSettings } from './optimizers/optimizer.ts';
import { getOptimizer } from './optimizers/registry.ts';
import { captureOptimizerState, optimizerStateMismatch, restoreOptimizerState, type OptimizerSide, type OptimizerState } from './optimizers/state.ts';

export type ReconstructionKind = 'bernoulli' | 'gaussian';

export interface VaeStepperOptions {
  /** z (+ label) → image in [-1, 1] (the family's generator). */
  decoder: tf.LayersModel;
  /** image (+ label) → [μ, log σ²] (the family's discriminator slot). */
  encoder: tf.LayersModel;
  /** Class count of a conditional pair (both networks take the label); null for unconditional. */
  numClasses: number | null;
  latentDim: number;
  /** Weight of the KL term. */
  beta: number;
  reconstruction: ReconstructionKind;
  /** σ of the Gaussian likelihood on [0, 1] pixels (reconstruction 'gaussian' only). */
  gaussianStd: number;
  /** Optimizer of both networks (train/optimizers/registry.ts). Default 'adam'. */
  optimizer?: string;
  /** Learning rate of the decoder. */
  learningRateDecoder: number;
  /** Learning rate of the encoder. */
  learningRateEncoder: number;
  /** Optimizer settings other than the learning rate. */
  settings: Omit<OptimizerSettings, 'learningRate'>;
  seed: number;
}

/** What one VAE update reports (per image, in nats; averaged over the batch). */
export interface VaeStepMetrics {
  /** −log p(x | z) for the sampled z (Bernoulli: binary cross-entropy summed over pixels). */
  reconstructionLoss: number;
  /** KL(q(z | x) ‖ N(0, I)), in closed form. */
  klDivergence: number;
  /** What was minimised: reconstructionLoss + β·klDivergence. */
  loss: number;
  /** The evidence lower bound −(reconstructionLoss + klDivergence) (β = 1 whatever β trained), a bound on log p(x). */
  elbo: number;
  /** Global L2 norm of the loss's gradient over the encoder's weights. */
  gradNormEncoder: number;
  /** Global L2 norm of the loss's gradient over the decoder's weights. */
  gradNormDecoder: number;
}

/** Keeps p away from 0 and 1 so log p stays finite where tanh saturates. */
const PROBABILITY_EPSILON = 1e-6;

/** KL(N(μ, diag exp(log σ²)) ‖ N(0, I)) per row: ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²). [B, d] → [B]. */
export function klDivergence(mean: tf.Tensor2D, logVariance: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(logVariance)), tf.add(1, logVariance)), 1).mul<tf.Tensor1D>(0.5));
}

/** z = μ + exp(½ log σ²)·ε: a sample of q(z | x) that is differentiable in μ and log σ². */
export function reparameterize(mean: tf.Tensor2D, logVariance: tf.Tensor2D, noise: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.add(mean, tf.mul(tf.exp(tf.mul(logVariance, 0.5)), noise)));
}

/**
 * −log p(x | decoded) per image, [B, H, W, C] pairs in [-1, 1] → [B]. Bernoulli: both mapped to [0, 1]
 * (t = (x + 1)/2, p = (y + 1)/2, which for y = tanh(a) is sigmoid(2a)) and Σ −[t log p + (1 − t) log(1 − p)];
 * Gaussian: Σ (t − p)² / 2σ², the normaliser (a constant) left out.
 */
export function reconstructionLoss(images: tf.Tensor, decoded: tf.Tensor, kind: ReconstructionKind, gaussianStd: number): tf.Tensor1D {
  return tf.tidy(() => {
    const batch = images.shape[0];
    const target = tf.add(images, 1).mul(0.5).reshape([batch, -1]);
    const p = tf.add(decoded, 1).mul(0.5).reshape([batch, -1]);
    if (kind === 'gaussian') return tf.sum(tf.square(tf.sub(target, p)), 1).div<tf.Tensor1D>(2 * gaussianStd * gaussianStd);
    const clipped = tf.clipByValue(p, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
    const logLikelihood = tf.add(tf.mul(target, tf.log(clipped)), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, clipped))));
    return tf.neg<tf.Tensor1D>(tf.sum(logLikelihood, 1));
  });
}

/** An encoder and a decoder with an optimizer each; one update moves both on the same (negative β-)ELBO. */
export class VaeStepper {
  readonly decoder: tf.LayersModel;
  readonly encoder: tf.LayersModel;
  readonly optimizerKind: OptimizerKind;
  readonly optimizerDecoder: tf.Optimizer;
  readonly optimizerEncoder: tf.Optimizer;
  private readonly options: VaeStepperOptions;
  private readonly decoderVariables: tf.Variable[];
  private readonly encoderVariables: tf.Variable[];

  constructor(options: VaeStepperOptions) {
    if (options.encoder.outputs.length !== 2) {
      throw new RangeError(`a VAE encoder returns [μ, log σ²] (2 outputs), this one has ${options.encoder.outputs.length}`);
    }
    this.options = options;
    this.decoder = options.decoder;
    this.encoder = options.encoder;
    this.optimizerKind = getOptimizer(options.optimizer ?? 'adam');
    this.optimizerDecoder = this.optimizerKind.create({ ...options.settings, learningRate: options.learningRateDecoder });
    this.optimizerEncoder = this.optimizerKind.create({ ...options.settings, learningRate: options.learningRateEncoder });
    this.decoderVariables = this.decoder.trainableWeights.map((w) => w.read() as tf.Variable);
    this.encoderVariables = this.encoder.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Scales both learning rates by `factor` from the next update on (learning-rate schedules). */
  setLearningRateFactor(factor: number): void {
    this.optimizerKind.setLearningRate(this.optimizerDecoder, this.options.learningRateDecoder * factor);
    this.optimizerKind.setLearningRate(this.optimizerEncoder, this.options.learningRateEncoder * factor);
  }

  /** Both optimizers' state for a checkpoint, under the checkpoint's slot names (generator = decoder, discriminator = encoder). */
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
      generator: { optimizer: this.optimizerDecoder, variables: this.decoder.trainableWeights },
      discriminator: { optimizer: this.optimizerEncoder, variables: this.encoder.trainableWeights },
    };
  }

  /** ε ~ N(0, I) for stream `key` of the run seed: a resumed or repeated run draws the same noise. */
  noise(batchSize: number, key: number): tf.Tensor2D {
    return tf.randomNormal<tf.Rank.R2>([batchSize, this.options.latentDim], 0, 1, 'float32', streamSeed(this.options.seed, key));
  }

  /** The loss terms of a batch in training mode, per image [B] (inside a tidy or a gradient closure). */
  lossTerms(images: tf.Tensor4D, labels: tf.Tensor2D | null, noise: tf.Tensor2D): { reconstruction: tf.Tensor1D; kl: tf.Tensor1D; decoded: tf.Tensor } {
    const [mean, logVariance] = this.encoder.apply(labels ? [images, labels] : images, { training: true }) as tf.Tensor2D[];
    const z = reparameterize(mean!, logVariance!, noise);
    const decoded = this.decoder.apply(labels ? [z, labels] : z, { training: true }) as tf.Tensor;
    return {
      reconstruction: reconstructionLoss(images, decoded, this.options.reconstruction, this.options.gaussianStd),
      kl: klDivergence(mean!, logVariance!),
      decoded,
    };
  }

  /** One update of both networks on a real batch (and its labels when conditional). `key` picks ε. */
  trainStep(images: tf.Tensor4D, labels: tf.Tensor2D | null, key: number): VaeStepMetrics {
    if ((labels === null) !== (this.options.numClasses === null)) {
      throw new RangeError(`this VAE is ${this.options.numClasses === null ? 'unconditional and takes no labels' : 'conditional and needs the batch\'s labels'}`);
    }
    const kept: tf.Tensor[] = [];
    try {
      tf.tidy(() => {
        const noise = this.noise(images.shape[0], key);
        const { grads } = tf.variableGrads(() => {
          const { reconstruction, kl } = this.lossTerms(images, labels, noise);
          const r = reconstruction.mean<tf.Scalar>();
          const k = kl.mean<tf.Scalar>();
          kept.push(tf.keep(r.clone()), tf.keep(k.clone()));
          return tf.add<tf.Scalar>(r, k.mul(this.options.beta));
        }, [...this.encoderVariables, ...this.decoderVariables]);
        const encoderGrads = pick(grads, this.encoderVariables);
        const decoderGrads = pick(grads, this.decoderVariables);
        kept.push(tf.keep(globalNorm(Object.values(encoderGrads))), tf.keep(globalNorm(Object.values(decoderGrads))));
        this.optimizerEncoder.applyGradients(encoderGrads);
        this.optimizerDecoder.applyGradients(decoderGrads);
      });
      const [reconstructionLoss, klDivergence, gradNormEncoder, gradNormDecoder] = kept.map((t) => t.dataSync()[0]!) as [number, number, number, number];
      return {
        reconstructionLoss, klDivergence, loss: reconstructionLoss + this.options.beta * klDivergence, elbo: -(reconstructionLoss + klDivergence),
        gradNormEncoder, gradNormDecoder,
      };
    } finally {
      for (const t of kept) t.dispose();
    }
  }

  dispose(): void {
    this.optimizerDecoder.dispose();
    this.optimizerEncoder.dispose();
  }
}

function pick(grads: tf.NamedTensorMap, variables: tf.Variable[]): tf.NamedTensorMap {
  return Object.fromEntries(variables.map((v) => [v.name, grads[v.name]!]));
}

/** √(Σ‖g‖²) over a list of gradients. */
function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt<tf.Scalar>(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
}
