// StyleMixing → one style per synthesis layer [B, L, wDim] (a rank-3 value, tfjs layout). When the layer's second
// style comes through the w-space truncation (stylegan-lite builds it so), the graph mixes as StyleGAN's figures do:
// layers l ≥ mix_from take w₂ (from the `mix_z` input), the others w, chosen per image by Where, so an image with
// mix_from ≥ L is exactly the unmixed one. Otherwise (older checkpoints, whose w₂ bypasses the truncation and so
// could not honour ψ) every layer takes w and the w₂ branch leaves the graph.

import { GanforgeError } from '../../common/errors.ts';
import { MIX_CROSSOVER_INPUT } from '../../train/models/family.ts';
import { configNumber, outputShape, type LayerContext, type LayerExporter } from './layer-exporter.ts';

/** Whether this StyleMixing layer's second style is truncated, i.e. whether the exported graph offers mixing. */
export function mixesTruncatedStyles(layer: LayerContext['layer']): boolean {
  const second = layer.inboundNodes[0]?.inputTensors[1];
  return second !== undefined && second.sourceLayer.getClassName() === 'WSpaceTruncation';
}

export const styleMixingExporter: LayerExporter = {
  className: 'StyleMixing',
  convert(ctx) {
    const { graph, layer } = ctx;
    const [w, w2] = ctx.inputs;
    if (w === undefined || w2 === undefined || ctx.inputs.length !== 2) throw new GanforgeError('UNSUPPORTED_LAYER', `layer '${layer.name}' (StyleMixing) expects [w, w2], got ${ctx.inputs.length} inputs`);
    const base = layer.name;
    const styles = configNumber(ctx, 'styles');
    const axis1 = graph.addInt64Initializer(`${base}/axes`, [1]);
    const first = graph.addNode('Unsqueeze', [w.name, axis1], `${base}/unsqueeze`); // [B, 1, wDim]
    if (!mixesTruncatedStyles(layer)) {
      const stacked = graph.addNode('Expand', [first, graph.addInt64Initializer(`${base}/repeat`, [1, styles, 1])], `${base}/styles`); // [B, L, wDim]
      return [{ name: stacked, shape: outputShape(ctx), dtype: 'float32' }];
    }
    const second = graph.addNode('Unsqueeze', [w2.name, axis1], `${base}/unsqueeze_mix`); // [B, 1, wDim]
    const from = graph.addInput(MIX_CROSSOVER_INPUT, 'float32', ['batch', 1]); // [B, 1]
    const from3 = graph.addNode('Unsqueeze', [from, graph.addInt64Initializer(`${base}/from_axes`, [2])], `${base}/from`); // [B, 1, 1]
    const layerIndex = graph.addFloatInitializer(`${base}/layer_index`, [1, styles, 1], Float32Array.from({ length: styles }, (_, i) => i)); // [1, L, 1]
    const takesSecond = graph.addNode('GreaterOrEqual', [layerIndex, from3], `${base}/takes_mix`); // [B, L, 1] bool
    const stacked = graph.addNode('Where', [takesSecond, second, first], `${base}/styles`); // [B, L, wDim]
    return [{ name: stacked, shape: outputShape(ctx), dtype: 'float32' }];
  },
};
