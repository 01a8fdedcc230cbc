// Gradients tfjs lacks for second-order differentiation (a gradient penalty differentiates D's input gradient with
// respect to D's weights). LeakyReLU's gradient is where(x > 0, dy, α·dy): the comparison x > 0 lies on the path from
// D's weights to the penalty, so the outer tape asks for Greater's gradient, which tfjs does not register (it does for
// GreaterEqual), and every LeakyReLU critic fails with "gradient function not found for Greater". A comparison is
// piecewise constant, so its gradient is zero wherever it exists — what TensorFlow declares with NotDifferentiable.
// These are backend-independent gradient definitions (no kernel is added); they run on cpu, wasm and tensorflow alike.

import * as tf from '@tensorflow/tfjs';

/** Comparison kernels given a zero gradient here when tfjs has none; each takes inputs a and b. */
export const ZERO_GRADIENT_COMPARISONS = ['Greater', 'Less', 'LessEqual', 'Equal', 'NotEqual'] as const;

/** Registers the missing gradients (idempotent; a gradient tfjs already has is left alone). Returns the ones added. */
export function registerSecondOrderGradients(): string[] {
  const added: string[] = [];
  for (const kernelName of ZERO_GRADIENT_COMPARISONS) {
    if (tf.getGradient(kernelName) !== undefined) continue;
    tf.registerGradient({
      kernelName,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy, saved) => ({ a: () => tf.zerosLike(saved[0]!), b: () => tf.zerosLike(saved[1]!) }),
    });
    added.push(kernelName);
  }
  return added;
}
