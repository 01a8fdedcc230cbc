// Flatten → Flatten(axis 1) on the NHWC order (a discriminator's conv features are flattened as tfjs does, so the
// following Dense kernel rows line up).

import { attr } from '../onnx-graph.ts';
import { outputShape, singleInput, toTfjsLayout, type LayerExporter } from './layer-exporter.ts';

export const flattenExporter: LayerExporter = {
  className: 'Flatten',
  convert(ctx) {
    const input = singleInput(ctx);
    const shape = outputShape(ctx);
    if (input.shape.length === 2) return [{ ...input, shape }];
    const nhwc = toTfjsLayout(ctx.graph, input, ctx.layer.name);
    return [{ name: ctx.graph.addNode('Flatten', [nhwc], `${ctx.layer.name}/flatten`, { axis: attr.int(1) }), shape, dtype: input.dtype }];
  },
};
