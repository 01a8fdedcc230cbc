// LeakyReLU → LeakyRelu. alpha is always written: tfjs defaults to 0.3, ONNX to 0.01, so omitting it would be wrong.

import { configNumber, sameShapeAs, singleInput, type LayerExporter } from './layer-exporter.ts';
import { attr } from '../onnx-graph.ts';

export const leakyReluExporter: LayerExporter = {
  className: 'LeakyReLU',
  convert(ctx) {
    const input = singleInput(ctx);
    const alpha = configNumber(ctx, 'alpha', 0.3);
    return [sameShapeAs(input, ctx.graph.addNode('LeakyRelu', [input.name], `${ctx.layer.name}/leaky_relu`, { alpha: attr.float(alpha) }))];
  },
};
