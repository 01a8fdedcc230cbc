// ZeroPadding2D → Pad (constant 0) on the H and W axes of the NCHW value. tfjs stores the padding as
// [[top, bottom], [left, right]] (a number or a pair is expanded by the layer before getConfig).

import { attr } from '../onnx-graph.ts';
import { outputShape, requireChannelsLast, singleInput, spatialPairs, type LayerExporter } from './layer-exporter.ts';

export const zeroPadding2dExporter: LayerExporter = {
  className: 'ZeroPadding2D',
  convert(ctx) {
    const { graph, layer } = ctx;
    requireChannelsLast(ctx);
    const input = singleInput(ctx);
    const [[top, bottom], [left, right]] = spatialPairs(ctx, 'padding');
    // ONNX pads: every axis's begin, then every axis's end (N, C, H, W).
    const pads = graph.addInt64Initializer(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
    const padded = graph.addNode('Pad', [input.name, pads], `${layer.name}/pad`, { mode: attr.string('constant') });
    return [{ name: padded, shape: outputShape(ctx), dtype: input.dtype }];
  },
};
