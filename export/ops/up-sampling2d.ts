// UpSampling2D → Resize with fixed scales. tfjs resizes with align_corners = false and half_pixel_centers = false,
// i.e. ONNX coordinate mode 'asymmetric' (ONNX's default 'half_pixel' matches TF2 Keras, not tfjs); nearest uses
// floor, which with integer factors repeats each pixel as tfjs does.

import { attr } from '../onnx-graph.ts';
import { configPair, outputShape, requireChannelsLast, singleInput, unsupportedConfig, type LayerExporter } from './layer-exporter.ts';

export const upSampling2dExporter: LayerExporter = {
  className: 'UpSampling2D',
  convert(ctx) {
    const { graph, layer, config } = ctx;
    requireChannelsLast(ctx);
    const input = singleInput(ctx);
    const [sh, sw] = configPair(ctx, 'size', 2);
    const interpolation = config.interpolation ?? 'nearest';
    if (interpolation !== 'nearest' && interpolation !== 'bilinear') unsupportedConfig(ctx, 'interpolation', interpolation, "'nearest', 'bilinear'");
    const scales = graph.addFloatInitializer(`${layer.name}/scales`, [4], new Float32Array([1, 1, sh, sw]));
    const resized = graph.addNode('Resize', [input.name, '', scales], `${layer.name}/resize`, {
      mode: attr.string(interpolation === 'nearest' ? 'nearest' : 'linear'),
      coordinate_transformation_mode: attr.string('asymmetric'),
      ...(interpolation === 'nearest' ? { nearest_mode: attr.string('floor') } : {}),
    });
    return [{ name: resized, shape: outputShape(ctx), dtype: 'float32' }];
  },
};
