// Concatenate → Concat. The tfjs axis (default -1, the channel axis) is mapped to the ONNX layout: on rank-4 values
// NHWC axis 3 is NCHW axis 1. Labels that reach a Concat are cast to float, as tfjs would.

import { attr } from '../onnx-graph.ts';
import { asFloat, configNumber, onnxAxis, outputShape, type LayerExporter } from './layer-exporter.ts';

export const concatenateExporter: LayerExporter = {
  className: 'Concatenate',
  convert(ctx) {
    const { graph, layer, inputs } = ctx;
    const shape = outputShape(ctx);
    const axis = onnxAxis(configNumber(ctx, 'axis', -1), shape.length);
    const floats = inputs.map((input, i) => asFloat(graph, input, `${layer.name}/${i}`));
    return [{ name: graph.addNode('Concat', floats, `${layer.name}/concat`, { axis: attr.int(axis) }), shape, dtype: 'float32' }];
  },
};
