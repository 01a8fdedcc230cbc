// AdaptiveInstanceNorm → Gather (the layer's style from [B, L, wDim]) → two MatMul + Add affine maps → [B, C, 1, 1]
// scale (1 + γ, the 1 folded into γ's bias) and shift β; the feature map [B, C, H, W] is instance-normalised with
// ReduceMean over H, W (written out as LayerNormalization is, with tfjs's variance = mean of squared deviations).

import { GanforgeError } from '../../common/errors.ts';
import { attr } from '../onnx-graph.ts';
import { configNumber, requireWeight, sameShapeAs, type LayerExporter } from './layer-exporter.ts';

export const adaptiveInstanceNormExporter: LayerExporter = {
  className: 'AdaptiveInstanceNorm',
  convert(ctx) {
    const { graph, layer } = ctx;
    const [x, styles] = ctx.inputs;
    if (x === undefined || styles === undefined || ctx.inputs.length !== 2 || x.shape.length !== 4 || styles.shape.length !== 3) {
      throw new GanforgeError('UNSUPPORTED_LAYER', `layer '${layer.name}' (AdaptiveInstanceNorm) expects [x [B, H, W, C], styles [B, L, wDim]]`);
    }
    const base = layer.name;
    const index = configNumber(ctx, 'styleIndex');
    const epsilon = configNumber(ctx, 'epsilon', 1e-5);
    const w = graph.addNode('Gather', [styles.name, graph.addInt64Initializer(`${base}/style_index`, [index], [])], `${base}/style`, { axis: attr.int(1) }); // [B, wDim]
    const affine = (kernelName: string, biasName: string, plusOne: boolean): string => {
      const kernel = requireWeight(ctx, kernelName);
      const bias = requireWeight(ctx, biasName);
      const b = plusOne ? bias.data.map((v) => v + 1) : bias.data;
      const y = graph.addNode('MatMul', [w, graph.addFloatInitializer(`${base}/${kernelName}`, kernel.shape, kernel.data)], `${base}/${kernelName}`);
      const biased = graph.addNode('Add', [y, graph.addFloatInitializer(`${base}/${biasName}`, bias.shape, b)], `${base}/${biasName}`); // [B, C]
      return graph.addNode('Unsqueeze', [biased, graph.addInt64Initializer(`${base}/${biasName}/axes`, [2, 3])], `${base}/${biasName}/nchw`); // [B, C, 1, 1]
    };
    const scale = affine('scale_kernel', 'scale_bias', true);
    const shift = affine('shift_kernel', 'shift_bias', false);
    const spatial = { axes: attr.ints([2, 3]), keepdims: attr.int(1) };
    const mean = graph.addNode('ReduceMean', [x.name], `${base}/mean`, spatial);
    const centred = graph.addNode('Sub', [x.name, mean], `${base}/centred`);
    const variance = graph.addNode('ReduceMean', [graph.addNode('Mul', [centred, centred], `${base}/squared`)], `${base}/variance`, spatial);
    const eps = graph.addFloatInitializer(`${base}/epsilon`, [], new Float32Array([epsilon]));
    const std = graph.addNode('Sqrt', [graph.addNode('Add', [variance, eps], `${base}/variance_eps`)], `${base}/std`);
    const normalized = graph.addNode('Div', [centred, std], `${base}/normalized`);
    const modulated = graph.addNode('Add', [graph.addNode('Mul', [normalized, scale], `${base}/scaled`), shift], `${base}/shifted`);
    return [sameShapeAs(x, modulated)];
  },
};
