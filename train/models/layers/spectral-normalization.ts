// Spectral normalisation of the discriminator's weights (Miyato et al. 2018, "Spectral Normalization for GANs"): each
// Dense or Conv2D kernel W is used as W / σ(W), σ its largest singular value, so every layer is 1-Lipschitz and D as a
// whole is Lipschitz-bounded without a penalty term. σ is estimated by power iteration on W as an [n, out] matrix
// (a convolution's kernel reshaped to [k·k·in, out], as in the paper): from the stored vector u (a row [1, out]),
//   v ← W·uᵀ / ‖W·uᵀ‖,   u ← (Wᵀ·v / ‖Wᵀ·v‖)ᵀ,   σ = vᵀ·W·uᵀ,
// one step per forward pass. u and v are constants for the gradient (as torch.nn.utils.spectral_norm computes them
// under no_grad); the gradient flows through W in both W and σ.
//
// u is a non-trainable weight, so it is saved in checkpoints and a resumed run continues the iteration instead of
// restarting it from noise. A training-mode call advances u; an inference call runs the same step without storing it,
// so predict() equals the training forward. The trainer's generator step restores D's non-trainable weights
// (withFrozenStatistics in gan-stepper.ts), so u only advances on D's own updates: W does not change during G's step,
// and an extra iteration there would only refine σ for the same W while breaking "G's step leaves D bit-identical".

import * as tf from '@tensorflow/tfjs';
import type { LayerArgs } from './minibatch-stddev.ts';

/** Added to ‖·‖ before dividing (torch's normalize eps). */
const NORM_EPSILON = 1e-12;

/** Identity forward, zero gradient: keeps the power iteration's u and v out of the gradient. */
const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

function l2Normalize(x: tf.Tensor): tf.Tensor {
  return tf.div(x, tf.add(tf.norm(x), NORM_EPSILON));
}

/** tfjs's Initializer (the class itself is not exported under tf.initializers). */
type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** An initializer as {className, config}, as tfjs layers store theirs, so the layer config round-trips through JSON. */
type SerializedInitializer = { className: string; config: tf.serialization.ConfigDict };

function serializeInitializer(init: Initializer): SerializedInitializer {
  return { className: init.getClassName(), config: init.getConfig() };
}

function deserializeInitializer(spec: SerializedInitializer | Initializer | undefined, fallback: () => Initializer): Initializer {
  if (spec === undefined) return fallback();
  if (!('className' in spec)) return spec;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
  if (!entry) throw new RangeError(`unknown initializer class '${spec.className}' in a spectral-normalised layer's config`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, spec.config) as Initializer;
}

interface SpectralArgs extends LayerArgs {
  /** Add a bias. Default true. */
  useBias?: boolean;
  /** Kernel initializer (a tfjs initializer or its serialized form). Default Glorot uniform. */
  kernelInitializer?: Initializer | SerializedInitializer;
  /** Seed of u's initial N(0, 1) draw. Default 0. */
  powerIterationSeed?: number;
}

/** The shared part: kernel, bias and u, and W / σ(W) by one power-iteration step. */
abstract class SpectralKernelLayer extends tf.layers.Layer {
  readonly useBias: boolean;
  readonly powerIterationSeed: number;
  protected readonly kernelInitializer: Initializer;
  protected kernel: tf.LayerVariable | null = null;
  protected bias: tf.LayerVariable | null = null;
  /** The power-iteration vector, [1, out]; non-trainable, so checkpoints keep it. */
  protected u: tf.LayerVariable | null = null;

  constructor(args: SpectralArgs) {
    const { useBias = true, kernelInitializer, powerIterationSeed = 0, ...layerArgs } = args;
    super(layerArgs);
    this.useBias = useBias;
    this.powerIterationSeed = powerIterationSeed;
    this.kernelInitializer = deserializeInitializer(kernelInitializer, () => tf.initializers.glorotUniform({}));
  }

  /** Builds kernel [..., out], bias [out] and u [1, out]. */
  protected buildWeights(kernelShape: number[], out: number): void {
    this.kernel = this.addWeight('kernel', kernelShape, 'float32', this.kernelInitializer, undefined, true);
    if (this.useBias) this.bias = this.addWeight('bias', [out], 'float32', tf.initializers.zeros(), undefined, true);
    this.u = this.addWeight('u', [1, out], 'float32', tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: this.powerIterationSeed }), undefined, false);
    this.built = true;
  }

  /** W / σ(W) with one power-iteration step from the stored u; stores the new u when `training`. */
  protected normalize(training: boolean): tf.Tensor {
    const kernel = this.kernel!.read();
    const out = kernel.shape[kernel.shape.length - 1]!;
    const matrix = kernel.reshape([-1, out]); // [n, out]
    const fixed = stopGradient(matrix);
    const v = l2Normalize(tf.matMul(fixed, stopGradient(this.u!.read()), false, true)); // [n, 1]
    const u = stopGradient(l2Normalize(tf.matMul(v, fixed, true, false))); // [1, out] = (Wᵀ·v)ᵀ / ‖·‖
    const sigma = tf.matMul(tf.matMul(stopGradient(v), matrix, true, false), u, false, true).reshape([]); // vᵀ·W·uᵀ
    if (training) this.u!.write(u); // the variable holds its own reference; tidy may dispose `u`
    return tf.div(kernel, sigma);
  }

  /** The kernel the layer applies now, W / σ(W) (inference: u is not advanced). */
  normalizedKernel(): tf.Tensor {
    return tf.tidy(() => this.normalize(false));
  }

  /** σ(W) as the next forward pass would estimate it. */
  spectralNormEstimate(): number {
    return tf.tidy(() => {
      const kernel = this.kernel!.read();
      return tf.div(tf.norm(kernel), tf.norm(this.normalize(false))).dataSync()[0]!;
    });
  }

  protected addBias(y: tf.Tensor): tf.Tensor {
    return this.bias ? tf.add(y, this.bias.read()) : y;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), useBias: this.useBias, powerIterationSeed: this.powerIterationSeed, kernelInitializer: serializeInitializer(this.kernelInitializer) };
  }
}

export interface SpectralDenseArgs extends SpectralArgs {
  units: number;
}

/** Dense with a spectrally normalised kernel: [B, in] → [B, units], no activation (the families add LeakyReLU). */
export class SpectralDense extends SpectralKernelLayer {
  static className = 'SpectralDense';
  readonly units: number;

  constructor(args: SpectralDenseArgs) {
    const { units, ...rest } = args;
    super(rest);
    if (!Number.isInteger(units) || units < 1) throw new RangeError(`SpectralDense 'units' must be an integer ≥ 1, got ${units}`);
    this.units = units;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 2 || shape[1] == null) throw new RangeError(`SpectralDense takes [B, features] with known features, got [${shape.join(', ')}]`);
    this.buildWeights([shape[1], this.units], this.units);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0]!, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return this.addBias(tf.matMul(x, this.normalize(kwargs.training === true))); // [B, in] · [in, units]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }
}

export interface SpectralConv2DArgs extends SpectralArgs {
  filters: number;
  kernelSize: number;
  /** Default 1. */
  strides?: number;
  /** Default 'valid' (as tf.layers.conv2d). */
  padding?: 'same' | 'valid';
}

/** Conv2D (NHWC, square kernel and stride) with a spectrally normalised kernel [k, k, in, filters]. */
export class SpectralConv2D extends SpectralKernelLayer {
  static className = 'SpectralConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';

  constructor(args: SpectralConv2DArgs) {
    const { filters, kernelSize, strides = 1, padding = 'valid', ...rest } = args;
    super(rest);
    for (const [name, value] of [['filters', filters], ['kernelSize', kernelSize], ['strides', strides]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`SpectralConv2D '${name}' must be an integer ≥ 1, got ${value}`);
    }
    if (padding !== 'same' && padding !== 'valid') throw new RangeError(`SpectralConv2D 'padding' must be 'same' or 'valid', got ${JSON.stringify(padding)}`);
    this.filters = filters;
    this.kernelSize = kernelSize;
    this.strides = strides;
    this.padding = padding;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 4 || shape[3] == null) throw new RangeError(`SpectralConv2D takes [B, H, W, C] with known C, got [${shape.join(', ')}]`);
    this.buildWeights([this.kernelSize, this.kernelSize, shape[3], this.filters], this.filters);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const side = (n: number | null) => (n == null ? null : this.padding === 'same' ? Math.ceil(n / this.strides) : Math.ceil((n - this.kernelSize + 1) / this.strides));
    return [shape[0]!, side(shape[1]!), side(shape[2]!), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const kernel = this.normalize(kwargs.training === true) as tf.Tensor4D;
      return this.addBias(tf.conv2d(x, kernel, this.strides, this.padding)); // [B, H, W, in] → [B, H/s, W/s, filters]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding };
  }
}

tf.serialization.registerClass(SpectralDense);
tf.serialization.registerClass(SpectralConv2D);
