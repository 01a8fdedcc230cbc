// Reshape → Reshape on the tfjs (NHWC) element order: a rank-4 input goes back to NHWC first, a rank-4 result goes
// to NCHW after, so the values land where tfjs puts them. The target uses the static output shape tfjs computed
// (its own -1 resolved), leaving -1 only for the batch.

import { fromTfjsLayout, outputShape, singleInput, staticDims, toTfjsLayout, type LayerExporter } from './layer-exporter.ts';

export const reshapeExporter: LayerExporter = {
  className: 'Reshape',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const shape = outputShape(ctx);
    const target = graph.addInt64Initializer(`${layer.name}/shape`, [-1, ...staticDims(ctx, shape)]);
    const reshaped = graph.addNode('Reshape', [toTfjsLayout(graph, input, layer.name), target], `${layer.name}/reshape`);
    const nchw = fromTfjsLayout(graph, reshaped, shape.length, layer.name);
    return [{ name: nchw, shape, dtype: input.dtype, ...(shape.length === 4 ? { nhwc: reshaped } : {}) }];
  },
};
