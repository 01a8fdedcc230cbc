// The merge layers that combine same-shaped inputs element by element (Multiply, Add) → a chain of one ONNX op.
// Inputs of one rank share the graph layout (rank 4 is NCHW for all of them), so ONNX broadcasting matches tfjs;
// tfjs's rank-expanding broadcast (inputs of different ranks) has no such mapping and is refused. Labels that reach
// the arithmetic are cast to float, as tfjs does.

import { asFloat, outputShape, unsupportedConfig, type LayerExporter } from './layer-exporter.ts';

/** A converter for merge layer `className` as a left-to-right chain of the binary ONNX op `opType`. */
export function elementwiseExporter(className: string, opType: 'Mul' | 'Add'): LayerExporter {
  return {
    className,
    convert(ctx) {
      const { graph, layer, inputs } = ctx;
      const ranks = inputs.map((input) => input.shape.length);
      if (new Set(ranks).size !== 1) unsupportedConfig(ctx, 'input ranks', ranks, 'inputs of equal rank');
      const [first, ...rest] = inputs.map((input, i) => asFloat(graph, input, `${layer.name}/${i}`));
      let result = first!;
      for (const next of rest) result = graph.addNode(opType, [result, next], `${layer.name}/${opType.toLowerCase()}`);
      return [{ name: result, shape: outputShape(ctx), dtype: 'float32' }];
    },
  };
}
