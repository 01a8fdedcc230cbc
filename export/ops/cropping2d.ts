// Cropping2D → Slice on the H and W axes of the NCHW value (e.g. trimming a 32×32 upsampled map to 28×28). tfjs
// stores the cropping as [[top, bottom], [left, right]].

import { outputShape, requireChannelsLast, singleInput, spatialPairs, staticDims, type LayerExporter } from './layer-exporter.ts';

export const cropping2dExporter: LayerExporter = {
  className: 'Cropping2D',
  convert(ctx) {
    const { graph, layer } = ctx;
    requireChannelsLast(ctx);
    const input = singleInput(ctx);
    const [height, width] = staticDims(ctx, input.shape);
    const [[top, bottom], [left, right]] = spatialPairs(ctx, 'cropping');
    const starts = graph.addInt64Initializer(`${layer.name}/starts`, [top, left]);
    const ends = graph.addInt64Initializer(`${layer.name}/ends`, [height! - bottom, width! - right]);
    const axes = graph.addInt64Initializer(`${layer.name}/axes`, [2, 3]);
    const cropped = graph.addNode('Slice', [input.name, starts, ends, axes], `${layer.name}/crop`);
    return [{ name: cropped, shape: outputShape(ctx), dtype: input.dtype }];
  },
};
