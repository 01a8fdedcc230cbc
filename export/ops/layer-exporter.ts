// The contract between the graph walker (export/export-graph.ts) and the one-file-per-layer converters in export/ops/,
// plus the layout helpers they share. Layout rule for the whole graph: a rank-4 value is NCHW inside ONNX (tfjs holds
// it NHWC), every other rank has tfjs's own layout; Transposes appear only where the rank changes or at graph edges.

import type * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../../common/errors.ts';
import { attr, type OnnxGraphBuilder } from '../onnx-graph.ts';

/** A tfjs tensor as it exists in the ONNX graph. */
export interface ExportedTensor {
  /** ONNX value name. */
  name: string;
  /** The tfjs (NHWC) shape, batch first as null. The ONNX value is this shape permuted to NCHW when rank is 4. */
  shape: (number | null)[];
  dtype: 'float32' | 'int64';
  /** For rank 4: an existing value holding the same data in NHWC order (a Reshape's output, an image input), so
   * going back to NHWC costs no second Transpose. */
  nhwc?: string;
}

/** A new value with the same shape and dtype as `input` (and no NHWC alias: the data differ). */
export function sameShapeAs(input: ExportedTensor, name: string): ExportedTensor {
  return { name, shape: input.shape, dtype: input.dtype };
}

/** A layer weight read from tfjs: the values and their tfjs shape. */
export interface WeightValue {
  shape: number[];
  data: Float32Array;
}

/** Everything a converter needs for one call of one layer. */
export interface LayerContext {
  graph: OnnxGraphBuilder;
  layer: tf.layers.Layer;
  /** layer.getConfig(), untyped: converters read the fields they rely on through the readers below. */
  config: Record<string, unknown>;
  inputs: ExportedTensor[];
  /** tfjs output shapes of this call (batch null). */
  outputShapes: (number | null)[][];
  /** A weight by its short name ('kernel', 'bias', 'gamma', 'moving_mean', ...), or undefined when the layer has none. */
  weight(shortName: string): WeightValue | undefined;
}

export interface LayerExporter {
  /** The tfjs class name it converts (layer.getClassName()). */
  className: string;
  /** Adds the layer's nodes and returns its outputs in tfjs order. */
  convert(ctx: LayerContext): ExportedTensor[];
}

/** A weight the layer must have; its absence means the checkpoint and the config disagree. */
export function requireWeight(ctx: LayerContext, shortName: string): WeightValue {
  const w = ctx.weight(shortName);
  if (w === undefined) throw new GanforgeError('INVALID_CHECKPOINT', `layer '${ctx.layer.name}' (${ctx.layer.getClassName()}) has no '${shortName}' weight`);
  return w;
}

/** The single input of a one-input layer. */
export function singleInput(ctx: LayerContext): ExportedTensor {
  const [input] = ctx.inputs;
  if (input === undefined || ctx.inputs.length !== 1) {
    throw new GanforgeError('UNSUPPORTED_LAYER', `layer '${ctx.layer.name}' (${ctx.layer.getClassName()}) expects one input, got ${ctx.inputs.length}`);
  }
  return input;
}

export function outputShape(ctx: LayerContext, index = 0): (number | null)[] {
  const shape = ctx.outputShapes[index];
  if (shape === undefined) throw new Error(`layer '${ctx.layer.name}' has no output ${index}`);
  return shape;
}

/** Fails with UNSUPPORTED_LAYER for a config value the exporter has no mapping for. */
export function unsupportedConfig(ctx: LayerContext, field: string, value: unknown, allowed: string): never {
  throw new GanforgeError(
    'UNSUPPORTED_LAYER',
    `layer '${ctx.layer.name}' (${ctx.layer.getClassName()}): '${field}' = ${JSON.stringify(value)} cannot be exported; supported: ${allowed}`,
  );
}

export function configNumber(ctx: LayerContext, field: string, fallback?: number): number {
  const value = ctx.config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) return unsupportedConfig(ctx, field, value, 'a finite number');
  return value;
}

/** A Keras pair field such as kernelSize / strides, which tfjs stores as a number or [h, w]. */
export function configPair(ctx: LayerContext, field: string, fallback?: number): [number, number] {
  const value = ctx.config[field] ?? fallback;
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return [value[0] as number, value[1] as number];
  return unsupportedConfig(ctx, field, value, 'a number or a pair of numbers');
}

/** A ZeroPadding2D / Cropping2D amount as tfjs stores it: [[top, bottom], [left, right]] of non-negative integers. */
export function spatialPairs(ctx: LayerContext, field: string): [[number, number], [number, number]] {
  const value = ctx.config[field];
  const isPair = (p: unknown): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && (v as number) >= 0);
  if (Array.isArray(value) && value.length === 2 && isPair(value[0]) && isPair(value[1])) return [value[0], value[1]];
  return unsupportedConfig(ctx, field, value, '[[top, bottom], [left, right]] of non-negative integers');
}

/** Rejects channelsFirst tfjs layers: every ganforge model is channelsLast, and the NCHW mapping assumes it. */
export function requireChannelsLast(ctx: LayerContext): void {
  const format = ctx.config.dataFormat;
  if (format !== undefined && format !== null && format !== 'channelsLast') unsupportedConfig(ctx, 'dataFormat', format, "'channelsLast'");
}

/** Static dims of a tfjs shape past the batch; a null there means the exporter cannot fix pads or reshape targets. */
export function staticDims(ctx: LayerContext, shape: (number | null)[]): number[] {
  return shape.slice(1).map((d) => {
    if (d === null) return unsupportedConfig(ctx, 'inputShape', shape, 'static sizes for every dimension but the batch');
    return d;
  });
}

/** Maps a tfjs axis of a rank-r value to the axis of the ONNX value (they differ only for rank 4: NHWC → NCHW). */
export function onnxAxis(tfjsAxis: number, rank: number): number {
  const axis = tfjsAxis < 0 ? tfjsAxis + rank : tfjsAxis;
  if (axis < 0 || axis >= rank) throw new RangeError(`axis ${tfjsAxis} is out of range for rank ${rank}`);
  if (rank !== 4) return axis;
  return [0, 2, 3, 1][axis]!;
}

/** The ONNX value in tfjs's NHWC order (a Transpose for rank 4, the value itself otherwise). */
export function toTfjsLayout(graph: OnnxGraphBuilder, tensor: ExportedTensor, base: string): string {
  if (tensor.shape.length !== 4) return tensor.name;
  if (tensor.nhwc !== undefined) return tensor.nhwc;
  return graph.addNode('Transpose', [tensor.name], `${base}/to_nhwc`, { perm: attr.ints([0, 2, 3, 1]) });
}

/** Brings a value in tfjs layout into the graph's layout (a Transpose to NCHW for rank 4). */
export function fromTfjsLayout(graph: OnnxGraphBuilder, name: string, rank: number, base: string): string {
  if (rank !== 4) return name;
  return graph.addNode('Transpose', [name], `${base}/to_nchw`, { perm: attr.ints([0, 3, 1, 2]) });
}

/** The value as float32 (a Cast for int64 labels that feed arithmetic). */
export function asFloat(graph: OnnxGraphBuilder, tensor: ExportedTensor, base: string): string {
  if (tensor.dtype === 'float32') return tensor.name;
  return graph.addNode('Cast', [tensor.name], `${base}/to_float`, { to: attr.int(1) });
}

/** Transposes a tfjs weight with the given permutation into a new Float32Array (kernels: HWIO → OIHW, ...). */
export function transposeWeight(weight: WeightValue, perm: number[]): { dims: number[]; data: Float32Array } {
  const { shape, data } = weight;
  const rank = shape.length;
  const dims = perm.map((p) => shape[p]!);
  const srcStrides = new Array<number>(rank);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    srcStrides[i] = stride;
    stride *= shape[i]!;
  }
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += index[i]! * srcStrides[perm[i]!]!;
    out[o] = data[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++index[i]! < dims[i]!) break;
      index[i] = 0;
    }
  }
  return { dims, data: out };
}
