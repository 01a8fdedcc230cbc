// AdaIN style modulation (Huang & Belongie 2017, as StyleGAN v1 uses it): each sample's feature map is instance-
// normalised per channel over H×W, then scaled by (1 + γ(w)) and shifted by β(w), γ and β affine maps of the layer's
// style w. Inputs: x [B, H, W, C] and the per-layer styles [B, L, wDim]; the layer reads style `styleIndex`, so style
// mixing (which swaps w for some layers) needs no extra layers. γ's bias starts at 0: an untrained layer is a plain
// instance norm.

import * as tf from '@tensorflow/tfjs';

export interface AdaptiveInstanceNormArgs {
  /** Which of the L per-layer styles this layer reads. */
  styleIndex: number;
  /** Added to the variance. Default 1e-5. */
  epsilon?: number;
  /** Seed of the Glorot-uniform initialisers of the two affine maps. */
  seed: number;
  name?: string;
}

export class AdaptiveInstanceNorm extends tf.layers.Layer {
  static className = 'AdaptiveInstanceNorm';
  readonly styleIndex: number;
  readonly epsilon: number;
  readonly seed: number;
  private scaleKernel: tf.LayerVariable | null = null;
  private scaleBias: tf.LayerVariable | null = null;
  private shiftKernel: tf.LayerVariable | null = null;
  private shiftBias: tf.LayerVariable | null = null;

  constructor(args: AdaptiveInstanceNormArgs) {
    super(args);
    this.styleIndex = args.styleIndex;
    this.epsilon = args.epsilon ?? 1e-5;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [x, styles] = inputShape as tf.Shape[];
    if (x?.length !== 4 || styles?.length !== 3) {
      throw new RangeError(`layer '${this.name}' (AdaptiveInstanceNorm) takes [x [B, H, W, C], styles [B, L, wDim]], got ${JSON.stringify(inputShape)}`);
    }
    if (!(Number.isInteger(this.styleIndex) && this.styleIndex >= 0 && this.styleIndex < styles[1]!)) {
      throw new RangeError(`layer '${this.name}' (AdaptiveInstanceNorm): 'styleIndex' must be an integer in [0, ${styles[1]! - 1}], got ${this.styleIndex}`);
    }
    const channels = x[3]!;
    const wDim = styles[2]!;
    const init = (offset: number) => tf.initializers.glorotUniform({ seed: (this.seed + offset) >>> 0 });
    this.scaleKernel = this.addWeight('scale_kernel', [wDim, channels], 'float32', init(0));
    this.scaleBias = this.addWeight('scale_bias', [channels], 'float32', tf.initializers.zeros());
    this.shiftKernel = this.addWeight('shift_kernel', [wDim, channels], 'float32', init(1));
    this.shiftBias = this.addWeight('shift_bias', [channels], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, styles] = inputs as tf.Tensor[];
      const channels = x!.shape[3]!;
      const wDim = styles!.shape[2]!;
      const w = tf.reshape(tf.slice(styles!, [0, this.styleIndex, 0], [-1, 1, -1]), [-1, wDim]); // [B, wDim]
      const { mean, variance } = tf.moments(x!, [1, 2], true); // [B, 1, 1, C]
      const normalized = tf.div(tf.sub(x!, mean), tf.sqrt(tf.add(variance, this.epsilon)));
      const gamma = tf.reshape(tf.add(tf.matMul(w, this.scaleKernel!.read()), this.scaleBias!.read()), [-1, 1, 1, channels]);
      const beta = tf.reshape(tf.add(tf.matMul(w, this.shiftKernel!.read()), this.shiftBias!.read()), [-1, 1, 1, channels]);
      return tf.add(tf.mul(normalized, tf.add(gamma, 1)), beta);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), styleIndex: this.styleIndex, epsilon: this.epsilon, seed: this.seed };
  }
}
tf.serialization.registerClass(AdaptiveInstanceNorm);
