// ReLU layer → Relu, or Clip(0, maxValue) when the layer caps its output.

import { sameShapeAs, singleInput, type LayerExporter } from './layer-exporter.ts';

export const reluExporter: LayerExporter = {
  className: 'ReLU',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const maxValue = ctx.config.maxValue;
    if (typeof maxValue !== 'number') return [sameShapeAs(input, graph.addNode('Relu', [input.name], `${layer.name}/relu`))];
    const min = graph.addFloatInitializer(`${layer.name}/min`, [], new Float32Array([0]));
    const max = graph.addFloatInitializer(`${layer.name}/max`, [], new Float32Array([maxValue]));
    return [sameShapeAs(input, graph.addNode('Clip', [input.name, min, max], `${layer.name}/clip`))];
  },
};
