// Dense → MatMul (+ Add bias) (+ fused activation). MatMul rather than Gemm because Gemm needs a 2-D input and Dense
// also runs on rank-3 values (an embedded label [B, 1, D]); a rank-4 input is taken to NHWC and back, as tfjs applies
// the kernel on the channel axis.

import { asFloat, fromTfjsLayout, requireWeight, singleInput, toTfjsLayout, type LayerExporter } from './layer-exporter.ts';
import { emitActivation } from './activation.ts';

export const denseExporter: LayerExporter = {
  className: 'Dense',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const base = layer.name;
    const kernel = requireWeight(ctx, 'kernel');
    const units = kernel.shape[1]!;
    const floatInput = asFloat(graph, input, base);
    const rank = input.shape.length;
    const x = floatInput === input.name ? toTfjsLayout(graph, input, base) : toTfjsLayout(graph, { name: floatInput, shape: input.shape, dtype: 'float32' }, base);
    let y = graph.addNode('MatMul', [x, graph.addFloatInitializer(`${base}/kernel`, kernel.shape, kernel.data)], `${base}/matmul`);
    const bias = ctx.config.useBias === false ? undefined : ctx.weight('bias');
    if (bias !== undefined) y = graph.addNode('Add', [y, graph.addFloatInitializer(`${base}/bias`, bias.shape, bias.data)], `${base}/bias_add`);
    const shape = [...input.shape.slice(0, -1), units];
    const laidOut = fromTfjsLayout(graph, y, rank, base);
    const activated = emitActivation(graph, { name: laidOut, shape, dtype: 'float32' }, ctx.config.activation, base, `layer '${layer.name}' (Dense)`);
    return [{ name: activated, shape, dtype: 'float32' }];
  },
};
