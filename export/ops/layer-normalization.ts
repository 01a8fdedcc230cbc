// LayerNormalization → ReduceMean / Sub / Mul / ReduceMean / Add / Sqrt / Div, then γ and β: per-sample
// normalization, which WGAN-GP models use instead of BatchNorm (whose batch coupling breaks the gradient penalty).
// Written out rather than as ONNX's LayerNormalization op because that op normalizes every axis from `axis` to the
// end, while tfjs's axes are any set of (NHWC) axes — channels alone, [H, W, C], … — which in the NCHW graph are no
// longer a trailing range. The decomposed form takes any axis set; γ and β are permuted to the NCHW positions.

import { attr } from '../onnx-graph.ts';
import {
  configNumber, onnxAxis, requireWeight, sameShapeAs, singleInput, staticDims, transposeWeight, unsupportedConfig, type LayerExporter,
} from './layer-exporter.ts';

export const layerNormalizationExporter: LayerExporter = {
  className: 'LayerNormalization',
  convert(ctx) {
    const { graph, layer, config } = ctx;
    const input = singleInput(ctx);
    const base = layer.name;
    const rank = input.shape.length;
    const raw = config.axis;
    const listed: unknown[] = Array.isArray(raw) ? raw : [raw ?? -1];
    const tfjsAxes = listed.map((a) => (typeof a === 'number' && Number.isInteger(a) ? (a < 0 ? a + rank : a) : NaN));
    if (tfjsAxes.length === 0 || tfjsAxes.some((a) => !(a >= 1 && a < rank))) {
      unsupportedConfig(ctx, 'axis', raw, `axes in [1, ${rank - 1}] (the batch axis is never normalized)`);
    }
    const axes = tfjsAxes.map((a) => onnxAxis(a, rank));
    const sorted = [...axes].sort((a, b) => a - b);
    const epsilon = configNumber(ctx, 'epsilon', 1e-3);

    const mean = graph.addNode('ReduceMean', [input.name], `${base}/mean`, { axes: attr.ints(sorted), keepdims: attr.int(1) });
    const centred = graph.addNode('Sub', [input.name, mean], `${base}/centred`);
    const squared = graph.addNode('Mul', [centred, centred], `${base}/squared`);
    const variance = graph.addNode('ReduceMean', [squared], `${base}/variance`, { axes: attr.ints(sorted), keepdims: attr.int(1) });
    const eps = graph.addFloatInitializer(`${base}/epsilon`, [], new Float32Array([epsilon]));
    const std = graph.addNode('Sqrt', [graph.addNode('Add', [variance, eps], `${base}/variance_eps`)], `${base}/std`);
    let y = graph.addNode('Div', [centred, std], `${base}/normalized`);

    // γ/β have the tfjs shape of the normalized axes (in tfjs axis order); in the graph they broadcast as
    // [d1, …, d(rank−1)] with the ONNX positions of those axes filled and 1 elsewhere.
    const dims = staticDims(ctx, input.shape);
    const onnxDims = new Array<number>(rank - 1).fill(1);
    tfjsAxes.forEach((a, i) => { onnxDims[axes[i]! - 1] = dims[a - 1]!; });
    const order = axes.map((_a, i) => i).sort((p, q) => axes[p]! - axes[q]!); // tfjs param axis → graph order
    const param = (shortName: string, opType: 'Mul' | 'Add') => {
      const w = requireWeight(ctx, shortName);
      const laidOut = transposeWeight(w, order);
      y = graph.addNode(opType, [y, graph.addFloatInitializer(`${base}/${shortName}`, onnxDims, laidOut.data)], `${base}/${shortName}`);
    };
    if (config.scale !== false) param('gamma', 'Mul');
    if (config.center !== false) param('beta', 'Add');
    return [sameShapeAs(input, y)];
  },
};
