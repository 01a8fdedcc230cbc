// ConstantInput → Expand of the learned [1, C, h, w] constant to the batch size read from the layer's input
// (Shape → first dim ⊕ [C, h, w]), so the graph keeps its dynamic batch.

import { attr } from '../onnx-graph.ts';
import { requireWeight, singleInput, transposeWeight, type LayerExporter } from './layer-exporter.ts';

export const constantInputExporter: LayerExporter = {
  className: 'ConstantInput',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const base = layer.name;
    const constant = requireWeight(ctx, 'constant'); // [h, w, c]
    const [h, w, c] = constant.shape as [number, number, number];
    const nchw = transposeWeight({ shape: [1, h, w, c], data: constant.data }, [0, 3, 1, 2]);
    const value = graph.addFloatInitializer(`${base}/constant`, nchw.dims, nchw.data);
    const batch = graph.addNode('Shape', [input.name], `${base}/batch`, { start: attr.int(0), end: attr.int(1) });
    const shape = graph.addNode('Concat', [batch, graph.addInt64Initializer(`${base}/chw`, [c, h, w])], `${base}/shape`, { axis: attr.int(0) });
    return [{ name: graph.addNode('Expand', [value, shape], `${base}/expand`), shape: [null, h, w, c], dtype: 'float32' }];
  },
};
