// The state an optimizer carries from one update to the next (Adam's moments and bias-correction products, RMSProp's
// averages, momentum's velocity, the update count), taken out as bytes for a checkpoint and put back on resume, so a
// resumed run makes the very updates an uninterrupted one would. tfjs's getWeights/setWeights cover the tensors and
// the count; Adam's running products β1ᵗ and β2ᵗ are read and written apart, because setWeights recomputes them as
// pow(β, t + 1), which is not bit-identical to the float32 running product that applyGradients keeps.

import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';

export const OPTIMIZER_STATE_FORMAT = 'ganforge.optimizer-state/1';

/** One state tensor of one side: slot `slot` (m, v, rms, momentum, …) of the side's `index`-th trainable variable. */
export interface OptimizerTensorEntry {
  slot: string;
  index: number;
  shape: number[];
  dtype: 'float32';
  /** Byte offset in the state's data. */
  offset: number;
}

/** The optimizer state of one side of the GAN. */
export interface OptimizerSideState {
  /** Updates applied (tfjs's `iterations`). */
  iterations: number;
  /** Scalars outside getWeights, exact float32 values: Adam's accBeta1 and accBeta2 (β1ᵗ and β2ᵗ as multiplied up). */
  scalars: Record<string, number>;
  /** originalName and shape of each trainable variable the state belongs to, in update order. */
  variables: { name: string; shape: number[] }[];
  tensors: OptimizerTensorEntry[];
}

export interface OptimizerStateManifest {
  format: typeof OPTIMIZER_STATE_FORMAT;
  /** train/optimizers/registry.ts name. */
  optimizer: string;
  generator: OptimizerSideState;
  discriminator: OptimizerSideState;
  /** Length of the data. */
  bytes: number;
}

/** Both sides' optimizer state: the manifest (JSON) and the tensors' bytes it indexes. */
export interface OptimizerState {
  manifest: OptimizerStateManifest;
  data: Uint8Array;
}

/** One side to capture or restore: its optimizer and the (layer) variables it updates, in update order. */
export interface OptimizerSide {
  optimizer: tf.Optimizer;
  variables: readonly tf.LayerVariable[];
}

/** Adam's fields outside getWeights (private in tfjs's typings). */
interface AdamProducts { accBeta1: tf.Variable; accBeta2: tf.Variable }

function adamProducts(optimizer: tf.Optimizer): AdamProducts | null {
  // By class name: tfjs's Optimizer answers instanceof for any optimizer (its Symbol.hasInstance checks the methods).
  return optimizer.getClassName() === tf.AdamOptimizer.className ? optimizer as unknown as AdamProducts : null;
}

/** Reads both sides' state (copies; the optimizers are untouched). */
export async function captureOptimizerState(optimizer: string, sides: { generator: OptimizerSide; discriminator: OptimizerSide }): Promise<OptimizerState> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const capture = async ({ optimizer: opt, variables }: OptimizerSide): Promise<OptimizerSideState> => {
    const [iter, ...weights] = await opt.getWeights();
    const iterations = (await iter!.tensor.data())[0]!;
    iter!.tensor.dispose(); // saveIterations makes a new scalar; the rest are the optimizer's own variables
    const perSlot = new Map<string, number>();
    const tensors: OptimizerTensorEntry[] = [];
    for (const { name, tensor } of weights) {
      if (tensor.dtype !== 'float32') throw new TypeError(`optimizer state tensor '${name}' is ${tensor.dtype}, expected float32`);
      const slot = name.slice(name.lastIndexOf('/') + 1);
      const index = perSlot.get(slot) ?? 0;
      perSlot.set(slot, index + 1);
      const values = Float32Array.from(await tensor.data() as Float32Array);
      tensors.push({ slot, index, shape: [...tensor.shape], dtype: 'float32', offset: bytes });
      chunks.push(new Uint8Array(values.buffer));
      bytes += values.byteLength;
    }
    const adam = adamProducts(opt);
    const scalars: Record<string, number> = adam === null ? {} : { accBeta1: adam.accBeta1.dataSync()[0]!, accBeta2: adam.accBeta2.dataSync()[0]! };
    return { iterations, scalars, variables: variables.map((v) => ({ name: v.originalName, shape: [...v.shape] as number[] })), tensors };
  };
  const generator = await capture(sides.generator);
  const discriminator = await capture(sides.discriminator);
  const data = new Uint8Array(bytes);
  let at = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.byteLength;
  }
  return { manifest: { format: OPTIMIZER_STATE_FORMAT, optimizer, generator, discriminator, bytes }, data };
}

/**
 * Why `state` cannot be put back into these sides (another optimizer, other variables), or null when it can. A
 * mismatch is not an error of the checkpoint: the run continues with fresh moments, and the caller says so.
 */
export function optimizerStateMismatch(state: OptimizerState, optimizer: string, sides: { generator: OptimizerSide; discriminator: OptimizerSide }): string | null {
  if (state.manifest.optimizer !== optimizer) return `it was saved for optimizer '${state.manifest.optimizer}', this run uses '${optimizer}'`;
  for (const side of ['generator', 'discriminator'] as const) {
    const saved = state.manifest[side].variables.map((v) => `${v.name}:${v.shape.join('×')}`).join(', ');
    const now = sides[side].variables.map((v) => `${v.originalName}:${v.shape.join('×')}`).join(', ');
    if (saved !== now) return `the ${side}'s variables differ (saved ${saved}; now ${now})`;
  }
  return null;
}

/** Puts `state` into the two (fresh) optimizers; check optimizerStateMismatch first. */
export async function restoreOptimizerState(state: OptimizerState, sides: { generator: OptimizerSide; discriminator: OptimizerSide }): Promise<void> {
  for (const name of ['generator', 'discriminator'] as const) {
    const side = state.manifest[name];
    const { optimizer, variables } = sides[name];
    const created: tf.Tensor[] = [tf.scalar(side.iterations, 'int32')];
    const values: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: created[0]! }];
    for (const entry of side.tensors) {
      const count = entry.shape.reduce((a, b) => a * b, 1);
      if (entry.offset + 4 * count > state.data.byteLength || entry.index >= variables.length) {
        throw new GanforgeError('INVALID_CHECKPOINT', `optimizer state: ${name} tensor ${entry.slot}/${entry.index} lies outside the saved data or the model`);
      }
      // A copy: the data's byte offset need not be a multiple of 4.
      const floats = new Float32Array(state.data.slice(entry.offset, entry.offset + 4 * count).buffer);
      const tensor = tf.tensor(floats, entry.shape, 'float32');
      created.push(tensor);
      values.push({ name: `${(variables[entry.index]!.read() as tf.Variable).name}/${entry.slot}`, tensor });
    }
    await optimizer.setWeights(values);
    // setWeights wraps each tensor in a variable sharing its buffer; ours can go.
    for (const t of created) t.dispose();
    const adam = adamProducts(optimizer);
    if (adam !== null) {
      const { accBeta1, accBeta2 } = side.scalars;
      if (typeof accBeta1 !== 'number' || typeof accBeta2 !== 'number') {
        throw new GanforgeError('INVALID_CHECKPOINT', `optimizer state: the ${name}'s Adam state lacks accBeta1/accBeta2`);
      }
      tf.tidy(() => {
        adam.accBeta1.assign(tf.scalar(accBeta1));
        adam.accBeta2.assign(tf.scalar(accBeta2));
      });
    }
  }
}
