// Multiply → a chain of Mul. Inputs of one rank share the graph layout, so ONNX broadcasting matches tfjs; tfjs's
// rank-expanding broadcast (inputs of different ranks) has no such mapping and is refused.

import { asFloat, outputShape, unsupportedConfig, type LayerExporter } from './layer-exporter.ts';

export const multiplyExporter: LayerExporter = {
  className: 'Multiply',
  convert(ctx) {
    const { graph, layer, inputs } = ctx;
    const ranks = inputs.map((input) => input.shape.length);
    if (new Set(ranks).size !== 1) unsupportedConfig(ctx, 'input ranks', ranks, 'inputs of equal rank');
    const [first, ...rest] = inputs.map((input, i) => asFloat(graph, input, `${layer.name}/${i}`));
    let product = first!;
    for (const next of rest) product = graph.addNode('Mul', [product, next], `${layer.name}/mul`);
    return [{ name: product, shape: outputShape(ctx), dtype: 'float32' }];
  },
};
