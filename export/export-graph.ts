// Walks a tfjs LayersModel's layer graph (functional or sequential) from its outputs back to its inputs and emits one
// ONNX graph through the layer registry. Generic over what the model is: export-generator.ts binds a generator's
// inputs to z/label, tests use it directly for discriminators.

import type * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../common/errors.ts';
import { attr, OnnxGraphBuilder, type ModelOptions } from './onnx-graph.ts';
import { toTfjsLayout, type ExportedTensor, type LayerContext, type WeightValue } from './ops/layer-exporter.ts';
import { layerExporterFor } from './ops/registry.ts';

type SymbolicTensor = tf.SymbolicTensor;

/** How one tfjs model input becomes an ONNX graph input. */
export interface GraphInputBinding {
  /** ONNX input name. */
  name: string;
  /**
   * 'float': float32 with the tfjs shape (a rank-4 image stays NHWC at the edge); 'label': int64 [batch], unsqueezed
   * inside the graph when the tfjs input is [batch, 1].
   */
  kind: 'float' | 'label';
}

/** How one tfjs model output becomes an ONNX graph output. */
export interface GraphOutputBinding {
  /** ONNX output name. */
  name: string;
  /** Static shape past the batch, tfjs layout, to reshape the output to (same element count). Default: the tfjs shape. */
  shape?: number[];
}

export interface LayersModelExportOptions extends ModelOptions {
  /** One binding per model input, in model.inputs order. */
  inputs: GraphInputBinding[];
  /** One binding per model output, in model.outputs order. */
  outputs: GraphOutputBinding[];
}

/** Serializes `model` as an ONNX model (IR 8, opset 17) with a dynamic 'batch' dimension. Pure: writes no file. */
export function exportLayersModel(model: tf.LayersModel, options: LayersModelExportOptions): Uint8Array {
  if (options.inputs.length !== model.inputs.length) {
    throw new RangeError(`'inputs' must bind all ${model.inputs.length} model inputs, got ${options.inputs.length} bindings`);
  }
  if (options.outputs.length !== model.outputs.length) {
    throw new RangeError(`'outputs' must bind all ${model.outputs.length} model outputs, got ${options.outputs.length} bindings`);
  }
  // Fail on the first unsupported layer before building anything.
  for (const layer of model.layers) layerExporterFor(layer.getClassName(), layer.name);

  const graph = new OnnxGraphBuilder();
  const values = new Map<number, ExportedTensor>();
  model.inputs.forEach((symbolic, i) => values.set(symbolic.id, bindInput(graph, symbolic, options.inputs[i]!)));

  const resolve = (symbolic: SymbolicTensor): ExportedTensor => {
    const known = values.get(symbolic.id);
    if (known !== undefined) return known;
    const layer = symbolic.sourceLayer;
    const node = layer.inboundNodes[symbolic.nodeIndex];
    if (node === undefined) throw new Error(`tensor '${symbolic.name}' has no producing node in layer '${layer.name}'`);
    const exporter = layerExporterFor(layer.getClassName(), layer.name);
    const inputs = node.inputTensors.map(resolve);
    const ctx: LayerContext = {
      graph,
      layer,
      config: layer.getConfig(),
      inputs,
      outputShapes: node.outputTensors.map((t) => t.shape),
      weight: weightReader(layer),
    };
    const outputs = exporter.convert(ctx);
    node.outputTensors.forEach((t, i) => {
      const out = outputs[i];
      if (out === undefined) throw new Error(`exporter for ${layer.getClassName()} returned ${outputs.length} outputs, tfjs has ${node.outputTensors.length}`);
      values.set(t.id, out);
    });
    const result = values.get(symbolic.id);
    if (result === undefined) throw new Error(`layer '${layer.name}' did not produce tensor '${symbolic.name}'`);
    return result;
  };

  model.outputs.forEach((symbolic, i) => bindOutput(graph, resolve(symbolic), options.outputs[i]!));
  return graph.toBytes(options);
}

function bindInput(graph: OnnxGraphBuilder, symbolic: SymbolicTensor, binding: GraphInputBinding): ExportedTensor {
  const shape = symbolic.shape;
  const label = `model input '${symbolic.name}' ${JSON.stringify(shape)}`;
  if (binding.kind === 'label') {
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw new GanforgeError('UNSUPPORTED_LAYER', `${label}: a label input must be [batch] or [batch, 1]`);
    }
    const name = graph.addInput(binding.name, 'int64', ['batch']);
    if (shape.length === 1) return { name, shape, dtype: 'int64' };
    const axes = graph.addInt64Initializer(`${binding.name}/axes`, [1]);
    return { name: graph.addNode('Unsqueeze', [name, axes], `${binding.name}/unsqueeze`), shape, dtype: 'int64' };
  }
  const dims = shape.slice(1).map((d) => {
    if (d === null) throw new GanforgeError('UNSUPPORTED_LAYER', `${label}: only the batch dimension may be dynamic`);
    return d;
  });
  const name = graph.addInput(binding.name, 'float32', ['batch', ...dims]);
  if (shape.length !== 4) return { name, shape, dtype: 'float32' };
  return { name: graph.addNode('Transpose', [name], `${binding.name}/to_nchw`, { perm: attr.ints([0, 3, 1, 2]) }), shape, dtype: 'float32', nhwc: name };
}

function bindOutput(graph: OnnxGraphBuilder, value: ExportedTensor, binding: GraphOutputBinding): void {
  const tfjsDims = value.shape.slice(1).map((d) => d ?? -1);
  const dims = binding.shape ?? tfjsDims;
  if (dims.some((d) => d < 0)) throw new GanforgeError('UNSUPPORTED_LAYER', `output '${binding.name}' ${JSON.stringify(value.shape)} has a dynamic dimension besides the batch`);
  const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
  if (size(dims) !== size(tfjsDims)) {
    throw new RangeError(`output '${binding.name}' shape [${dims.join(', ')}] does not hold the model's output [${tfjsDims.join(', ')}]`);
  }
  let name = value.name;
  if (value.shape.length === 4) name = toTfjsLayout(graph, value, binding.name);
  if (dims.length !== tfjsDims.length || dims.some((d, i) => d !== tfjsDims[i])) {
    name = graph.addNode('Reshape', [name, graph.addInt64Initializer(`${binding.name}/shape`, [-1, ...dims])], `${binding.name}/reshape`);
  }
  graph.addNodeWithOutputs('Identity', [name], [graph.claimExact(binding.name)], binding.name);
  graph.addOutput(binding.name, value.dtype, ['batch', ...dims]);
}

/** Reads a layer's weights by short name ('kernel', 'moving_mean'), from the layer itself, never model.getWeights()
 * (which puts all non-trainable weights last). */
function weightReader(layer: tf.layers.Layer): (shortName: string) => WeightValue | undefined {
  let byName: Map<string, WeightValue> | undefined;
  return (shortName) => {
    if (byName === undefined) {
      byName = new Map();
      const tensors = layer.getWeights();
      layer.weights.forEach((variable, i) => {
        const short = variable.originalName.split('/').pop()!.replace(/_\d+$/, '');
        const tensor = tensors[i]!;
        byName!.set(short, { shape: tensor.shape, data: Float32Array.from(tensor.dataSync()) });
      });
    }
    return byName.get(shortName);
  };
}
