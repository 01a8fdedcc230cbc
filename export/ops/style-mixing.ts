// StyleMixing → Unsqueeze + Expand: at inference every synthesis layer takes the same w, so [B, wDim] becomes
// [B, L, wDim] (a rank-3 value, tfjs layout). The second input w₂ is not read, so its branch leaves the graph.

import { GanforgeError } from '../../common/errors.ts';
import { configNumber, outputShape, type LayerExporter } from './layer-exporter.ts';

export const styleMixingExporter: LayerExporter = {
  className: 'StyleMixing',
  convert(ctx) {
    const { graph, layer } = ctx;
    const [w] = ctx.inputs;
    if (w === undefined || ctx.inputs.length !== 2) throw new GanforgeError('UNSUPPORTED_LAYER', `layer '${layer.name}' (StyleMixing) expects [w, w2], got ${ctx.inputs.length} inputs`);
    const base = layer.name;
    const styles = configNumber(ctx, 'styles');
    const unsqueezed = graph.addNode('Unsqueeze', [w.name, graph.addInt64Initializer(`${base}/axes`, [1])], `${base}/unsqueeze`); // [B, 1, wDim]
    const stacked = graph.addNode('Expand', [unsqueezed, graph.addInt64Initializer(`${base}/repeat`, [1, styles, 1])], `${base}/styles`); // [B, L, wDim]
    return [{ name: stacked, shape: outputShape(ctx), dtype: 'float32' }];
  },
};
