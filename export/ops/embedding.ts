// Embedding → Gather(embeddings, labels): [B, L] class indices → [B, L, D]. Labels arrive as int64; a float input
// (tfjs models often declare the label input float32) is cast, as tfjs casts it to int32 itself.

import { attr } from '../onnx-graph.ts';
import { outputShape, requireWeight, singleInput, type LayerExporter } from './layer-exporter.ts';

export const embeddingExporter: LayerExporter = {
  className: 'Embedding',
  convert(ctx) {
    const { graph, layer } = ctx;
    const input = singleInput(ctx);
    const table = requireWeight(ctx, 'embeddings');
    const indices = input.dtype === 'int64' ? input.name : graph.addNode('Cast', [input.name], `${layer.name}/to_int64`, { to: attr.int(7) });
    const embeddings = graph.addFloatInitializer(`${layer.name}/embeddings`, table.shape, table.data);
    return [{ name: graph.addNode('Gather', [embeddings, indices], `${layer.name}/gather`, { axis: attr.int(0) }), shape: outputShape(ctx), dtype: 'float32' }];
  },
};
