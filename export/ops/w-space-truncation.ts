// WSpaceTruncation → w' = w̄ + ψ·(w − w̄), with ψ a graph input of its own: `truncation`, float32 [batch, 1], one ψ
// per image, so requests with different ψ still share a batch. w̄ is the tracked mean w, [1, wDim] (broadcast) or,
// for a conditional generator, [classes, wDim] gathered by each image's label. At ψ = 1 the output is w (to float
// rounding); at ψ = 0 it is w̄ for every z.

import { GanforgeError } from '../../common/errors.ts';
import { TRUNCATION_INPUT } from '../../train/models/family.ts';
import { attr } from '../onnx-graph.ts';
import { requireWeight, sameShapeAs, type LayerExporter } from './layer-exporter.ts';

export const wSpaceTruncationExporter: LayerExporter = {
  className: 'WSpaceTruncation',
  convert(ctx) {
    const { graph, layer } = ctx;
    const [w, label] = ctx.inputs;
    if (w === undefined || ctx.inputs.length > 2 || w.shape.length !== 2) {
      throw new GanforgeError('UNSUPPORTED_LAYER', `layer '${layer.name}' (WSpaceTruncation) expects w [B, wDim] (and a label), got ${ctx.inputs.length} inputs`);
    }
    const base = layer.name;
    const averageWeight = requireWeight(ctx, 'w_average'); // [K, wDim]
    const [classes, wDim] = averageWeight.shape as [number, number];
    const table = graph.addFloatInitializer(`${base}/w_average`, [classes, wDim], averageWeight.data);
    let average = table; // [1, wDim], broadcast over the batch
    if (label !== undefined) {
      const indices = label.dtype === 'int64' ? label.name : graph.addNode('Cast', [label.name], `${base}/label_int64`, { to: attr.int(7) });
      const gathered = graph.addNode('Gather', [table, indices], `${base}/class_average`, { axis: attr.int(0) }); // [B, (1,) wDim]
      average = graph.addNode('Reshape', [gathered, graph.addInt64Initializer(`${base}/shape`, [-1, wDim])], `${base}/class_average_2d`); // [B, wDim]
    } else if (classes !== 1) {
      throw new GanforgeError('INVALID_CHECKPOINT', `layer '${layer.name}' (WSpaceTruncation) tracks ${classes} class means but has no label input`);
    }
    // stylegan-lite applies this layer to w and to the mixing style w₂: both read the one ψ input.
    const psi = graph.hasInput(TRUNCATION_INPUT) ? TRUNCATION_INPUT : graph.addInput(TRUNCATION_INPUT, 'float32', ['batch', 1]);
    const offset = graph.addNode('Sub', [w.name, average], `${base}/offset`);
    const pulled = graph.addNode('Add', [average, graph.addNode('Mul', [offset, psi], `${base}/scaled_offset`)], `${base}/truncated`);
    return [sameShapeAs(w, pulled)];
  },
};
