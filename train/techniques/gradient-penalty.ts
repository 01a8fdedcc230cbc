// WGAN-GP's gradient penalty (Gulrajani et al. 2017): λ·E[(‖∇_x̂ C(x̂)‖₂ − 1)²] at random interpolates
// x̂ = ε·x + (1 − ε)·G(z), ε ~ U[0, 1] per sample, which keeps the critic near 1-Lipschitz without clipping its weights.
// This is where implementations go silently wrong, so the three usual mistakes are ruled out by construction:
//  - the norm is per sample, over every non-batch axis (H, W, C), never over the batch or one axis;
//  - the penalty is computed inside D's gradient tape (PenaltyInput.critic), and ∇_x̂ C with tf.grad inside that tape,
//    so the outer tf.variableGrads differentiates through it into D's weights (double backprop);
//  - ∇_x̂ is taken with respect to x̂ itself (tf.grad's argument), so nothing can detach it.
// Per-sample gradients only mean something when D treats each sample alone: BatchNorm mixes the batch, so a critic
// with it is refused (use LayerNorm or no norm, as the paper does).
//
// A conditional D (projection, concatenation) is penalised at the interpolated images with the REAL batch's labels:
// the label is an integer input that cannot be interpolated, and the real labels are the conditioning of the data
// distribution the critic's slope is being constrained towards. ε pairs real image i with fake image i, whose label is
// drawn at random, so the interpolate's label is a choice either way; the real one at least belongs to one endpoint.

import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../../common/errors.ts';
import { SeededRandom } from '../../common/random.ts';
import { registerSecondOrderGradients } from './second-order-gradients.ts';
import type { PenaltyInput, PenaltyResult, TechniqueKind, TrainingTechnique } from './technique.ts';

registerSecondOrderGradients();

/** Mixed into the run seed so ε's stream never coincides with the latents' or the fake labels' stream of the same key. */
const EPSILON_STREAM_SALT = 0x67702d65; // 'gp-e'

/** ε_i ~ U(0, 1) for a batch, a function of (seed, key) only: a resumed run draws the same interpolates. */
export function interpolationWeights(seed: number, key: number, batchSize: number): Float32Array {
  const random = new SeededRandom((seed ^ EPSILON_STREAM_SALT) >>> 0, key);
  return Float32Array.from({ length: batchSize }, () => random.nextOpenUnit());
}

/** x̂ = ε·real + (1 − ε)·fake with one ε per sample, broadcast over H, W, C. */
export function interpolate(real: tf.Tensor, fake: tf.Tensor, epsilon: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const e = tf.tensor(epsilon, [epsilon.length, ...real.shape.slice(1).map(() => 1)]);
    return tf.add(fake, tf.mul(e, tf.sub(real, fake)));
  });
}

/**
 * ‖∇_x C(x)_i‖₂ per sample [B]: the gradient of Σ_i C(x_i) (each sample's critic value depends on that sample only)
 * reduced over every axis but the batch. Differentiable with respect to the critic's weights when called in a tape.
 */
export function criticGradientNorms(critic: (images: tf.Tensor) => tf.Tensor, images: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const gradient = tf.grad((x: tf.Tensor) => tf.sum(critic(x)))(images);
    const axes = gradient.shape.slice(1).map((_, i) => i + 1);
    // The 1e-12 keeps √'s gradient finite at a zero gradient (a dead critic) and is below float32's resolution otherwise.
    return tf.sqrt<tf.Tensor1D>(tf.add(tf.sum(tf.square(gradient), axes), 1e-12));
  });
}

/** The penalty term for one D update: λ·mean((‖g_i‖ − 1)²), plus its unweighted value and the mean norm for the log. */
export function gradientPenalty(lambda: number, seed: number, input: PenaltyInput): PenaltyResult {
  return tf.tidy(() => {
    const epsilon = interpolationWeights(seed, input.key, input.real.shape[0]);
    const mixed = interpolate(input.real, input.fake, epsilon);
    const norms = criticGradientNorms((x) => input.critic(x, input.realLabels), mixed);
    const penalty = tf.square(tf.sub(norms, 1)).mean<tf.Scalar>();
    return {
      loss: tf.mul<tf.Scalar>(penalty, lambda),
      metrics: { gradientPenalty: penalty, criticGradientNorm: norms.mean<tf.Scalar>() },
    };
  });
}

/** Class names of every layer of `model`, nested models included. */
function layerClassNames(model: tf.LayersModel): string[] {
  return model.layers.flatMap((layer) => (layer instanceof tf.LayersModel ? layerClassNames(layer) : [layer.getClassName()]));
}

export const gradientPenaltyTechnique: TechniqueKind<number> = {
  name: 'gradientPenalty',
  summary: 'WGAN-GP: λ·E[(‖∇C(x̂)‖ − 1)²] at random real/fake interpolates, per-sample norms, back-propagated into the critic',
  create(lambda: number, context): TrainingTechnique {
    if (typeof lambda !== 'number' || !(lambda > 0) || !Number.isFinite(lambda)) {
      throw new RangeError(`'gradientPenalty' must be a positive finite number (λ; 0 = off), got ${String(lambda)}`);
    }
    const batchNorms = layerClassNames(context.discriminator).filter((n) => n === 'BatchNormalization');
    if (batchNorms.length > 0) {
      throw new InvalidParameterError('gradientPenalty',
        `a gradient penalty needs per-sample critic gradients, but the discriminator has ${batchNorms.length} BatchNormalization ` +
        `layer(s), which mix the samples of a batch; build it with discriminatorNorm 'layer' or 'none' (e.g. --set discriminatorNorm=layer, as --preset wgan-gp does)`);
    }
    return {
      name: 'gradientPenalty',
      discriminatorPenalty: (input) => gradientPenalty(lambda, context.seed, input),
    };
  },
};
