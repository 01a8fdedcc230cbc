// Activation functions, used by the Activation layer and by the activations fused into Dense / Conv2D /
// Conv2DTranspose configs. Names are tfjs-layers' serialized names; an unknown one fails with UNSUPPORTED_LAYER
// rather than exporting a graph that silently differs from the checkpoint.

import { GanforgeError } from '../../common/errors.ts';
import { attr, type OnnxGraphBuilder } from '../onnx-graph.ts';
import { onnxAxis, sameShapeAs, singleInput, type ExportedTensor, type LayerExporter } from './layer-exporter.ts';

type Emit = (graph: OnnxGraphBuilder, input: string, rank: number, base: string) => string;

// selu's constants as tfjs-layers uses them; ONNX's defaults round to the same float32 but are written explicitly.
const SELU_ALPHA = 1.6732632423543772;
const SELU_GAMMA = 1.0507009873554805;

const ACTIVATIONS: Readonly<Record<string, Emit>> = Object.freeze({
  linear: (_g, input) => input,
  relu: (g, input, _r, base) => g.addNode('Relu', [input], `${base}/relu`),
  relu6: (g, input, _r, base) =>
    g.addNode('Clip', [input, g.addFloatInitializer(`${base}/relu6_min`, [], new Float32Array([0])), g.addFloatInitializer(`${base}/relu6_max`, [], new Float32Array([6]))], `${base}/relu6`),
  tanh: (g, input, _r, base) => g.addNode('Tanh', [input], `${base}/tanh`),
  sigmoid: (g, input, _r, base) => g.addNode('Sigmoid', [input], `${base}/sigmoid`),
  hardSigmoid: (g, input, _r, base) => g.addNode('HardSigmoid', [input], `${base}/hard_sigmoid`, { alpha: attr.float(0.2), beta: attr.float(0.5) }),
  elu: (g, input, _r, base) => g.addNode('Elu', [input], `${base}/elu`, { alpha: attr.float(1) }),
  selu: (g, input, _r, base) => g.addNode('Selu', [input], `${base}/selu`, { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_GAMMA) }),
  softplus: (g, input, _r, base) => g.addNode('Softplus', [input], `${base}/softplus`),
  softsign: (g, input, _r, base) => g.addNode('Softsign', [input], `${base}/softsign`),
  swish: (g, input, _r, base) => g.addNode('Mul', [input, g.addNode('Sigmoid', [input], `${base}/swish_gate`)], `${base}/swish`),
  softmax: (g, input, rank, base) => g.addNode('Softmax', [input], `${base}/softmax`, { axis: attr.int(onnxAxis(-1, rank)) }),
});

export const SUPPORTED_ACTIVATIONS: readonly string[] = Object.freeze(Object.keys(ACTIVATIONS));

/** Appends activation `name` to `input` (a tfjs value of the given rank); returns the activated value's name. */
export function emitActivation(graph: OnnxGraphBuilder, input: ExportedTensor, name: unknown, base: string, layerLabel: string): string {
  const key = name ?? 'linear';
  const emit = typeof key === 'string' ? ACTIVATIONS[key] : undefined;
  if (emit === undefined) {
    throw new GanforgeError(
      'UNSUPPORTED_LAYER',
      `${layerLabel}: activation ${JSON.stringify(key)} cannot be exported; supported activations: ${SUPPORTED_ACTIVATIONS.join(', ')}`,
    );
  }
  return emit(graph, input.name, input.shape.length, base);
}

export const activationExporter: LayerExporter = {
  className: 'Activation',
  convert(ctx) {
    const input = singleInput(ctx);
    const label = `layer '${ctx.layer.name}' (Activation)`;
    return [sameShapeAs(input, emitActivation(ctx.graph, input, ctx.config.activation, ctx.layer.name, label))];
  },
};
