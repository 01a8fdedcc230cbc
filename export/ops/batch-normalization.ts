// BatchNormalization → its inference form, folded into one Mul and one Add per channel:
//   y = x · γ/√(moving_variance + ε) + (β − moving_mean · γ/√(moving_variance + ε)).
// Why moving statistics and never batch statistics: with them, image k of a batch depends only on its own latent,
// so the server may batch requests dynamically and a (seed, index) pair always gives the same image. Batch statistics
// would make every image depend on whatever else shared its batch. Why a folded Mul+Add rather than the ONNX
// BatchNormalization op: that op normalizes axis 1 only, while a Keras BN may sit on the last axis of a rank-2 or
// rank-3 value; the folded form broadcasts over any axis, and onnxruntime fuses it into a preceding Conv/MatMul anyway.
// The fold runs in float64 so the constants are as exact as float32 allows. Only the last (channel) axis is
// exported: tfjs's cpu kernel indexes the statistics as if they were on the last axis whatever `axis` says (checked:
// axis 1 on [B, 2, 3, 1] mixes rows), so any other axis has no single right answer and is refused.

import { configNumber, onnxAxis, requireWeight, sameShapeAs, singleInput, unsupportedConfig, type LayerExporter } from './layer-exporter.ts';

export const batchNormalizationExporter: LayerExporter = {
  className: 'BatchNormalization',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const base = layer.name;
    const epsilon = configNumber(ctx, 'epsilon', 1e-3);
    const mean = requireWeight(ctx, 'moving_mean').data;
    const variance = requireWeight(ctx, 'moving_variance').data;
    const gamma = ctx.config.scale === false ? undefined : requireWeight(ctx, 'gamma').data;
    const beta = ctx.config.center === false ? undefined : requireWeight(ctx, 'beta').data;
    const channels = mean.length;
    const scale = new Float32Array(channels);
    const shift = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const s = (gamma === undefined ? 1 : gamma[c]!) / Math.sqrt(variance[c]! + epsilon);
      scale[c] = s;
      shift[c] = (beta === undefined ? 0 : beta[c]!) - mean[c]! * s;
    }
    const rank = input.shape.length;
    const rawAxis = ctx.config.axis;
    const tfjsAxis = Array.isArray(rawAxis) && rawAxis.length === 1 ? (rawAxis[0] as number) : configNumber(ctx, 'axis', -1);
    if (tfjsAxis !== -1 && tfjsAxis !== rank - 1) unsupportedConfig(ctx, 'axis', rawAxis, `-1 (the channel axis, ${rank - 1} here)`);
    // Per-channel vectors shaped to broadcast against the ONNX value: [C, 1, …, 1] with one 1 per axis after the channel axis.
    const axis = onnxAxis(tfjsAxis, rank);
    const dims = [channels, ...new Array<number>(rank - 1 - axis).fill(1)];
    const scaled = graph.addNode('Mul', [input.name, graph.addFloatInitializer(`${base}/scale`, dims, scale)], `${base}/scale`);
    const shifted = graph.addNode('Add', [scaled, graph.addFloatInitializer(`${base}/shift`, dims, shift)], `${base}/shift`);
    return [sameShapeAs(input, shifted)];
  },
};
