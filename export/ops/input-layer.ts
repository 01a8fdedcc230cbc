// InputLayer makes no nodes: the graph walker binds each model input to a named ONNX graph input (z, label) before
// any layer runs. It is in the registry so that the supported list is honest and a stray call is caught.

import type { LayerExporter } from './layer-exporter.ts';

export const inputLayerExporter: LayerExporter = {
  className: 'InputLayer',
  convert(ctx) {
    throw new Error(`InputLayer '${ctx.layer.name}' is not bound to a graph input; only model inputs may be InputLayers`);
  },
};
