// PixelNorm → Mul / ReduceMean / Add / Sqrt / Div: x / √(mean(x²) + ε) over tfjs's last axis (the channel axis, which
// for a rank-4 value is NCHW axis 1 in the graph).

import { attr } from '../onnx-graph.ts';
import { configNumber, onnxAxis, sameShapeAs, singleInput, type LayerExporter } from './layer-exporter.ts';

export const pixelNormExporter: LayerExporter = {
  className: 'PixelNorm',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const base = layer.name;
    const axis = onnxAxis(-1, input.shape.length);
    const epsilon = graph.addFloatInitializer(`${base}/epsilon`, [], new Float32Array([configNumber(ctx, 'epsilon', 1e-8)]));
    const squared = graph.addNode('Mul', [input.name, input.name], `${base}/squared`);
    const meanSquare = graph.addNode('ReduceMean', [squared], `${base}/mean_square`, { axes: attr.ints([axis]), keepdims: attr.int(1) });
    const norm = graph.addNode('Sqrt', [graph.addNode('Add', [meanSquare, epsilon], `${base}/plus_epsilon`)], `${base}/norm`);
    return [sameShapeAs(input, graph.addNode('Div', [input.name, norm], `${base}/normalized`))];
  },
};
