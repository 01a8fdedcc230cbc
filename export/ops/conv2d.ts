// Conv2D → Conv on NCHW values. Kernel HWIO → OIHW (transpose [3, 2, 0, 1]). 'same' becomes explicit pads computed
// as TensorFlow does (the odd pixel at the end), so the graph needs no auto_pad and runs the same on every provider.

import { attr } from '../onnx-graph.ts';
import { emitActivation } from './activation.ts';
import {
  configPair, outputShape, requireChannelsLast, requireWeight, singleInput, staticDims, transposeWeight, unsupportedConfig, type LayerExporter,
} from './layer-exporter.ts';

/** TensorFlow 'same' padding for one spatial axis: [begin, end], the extra pixel at the end. */
export function samePadding(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

export const conv2dExporter: LayerExporter = {
  className: 'Conv2D',
  convert(ctx) {
    const { graph, layer, config } = ctx;
    requireChannelsLast(ctx);
    const input = singleInput(ctx);
    const base = layer.name;
    const [height, width] = staticDims(ctx, input.shape);
    const [kh, kw] = configPair(ctx, 'kernelSize');
    const [sh, sw] = configPair(ctx, 'strides', 1);
    const [dh, dw] = configPair(ctx, 'dilationRate', 1);
    let pads = [0, 0, 0, 0];
    if (config.padding === 'same') {
      const [top, bottom] = samePadding(height!, kh, sh, dh);
      const [left, right] = samePadding(width!, kw, sw, dw);
      pads = [top, left, bottom, right];
    } else if (config.padding !== 'valid') {
      unsupportedConfig(ctx, 'padding', config.padding, "'same', 'valid'");
    }
    const kernel = transposeWeight(requireWeight(ctx, 'kernel'), [3, 2, 0, 1]);
    const inputs = [input.name, graph.addFloatInitializer(`${base}/kernel`, kernel.dims, kernel.data)];
    const bias = config.useBias === false ? undefined : ctx.weight('bias');
    if (bias !== undefined) inputs.push(graph.addFloatInitializer(`${base}/bias`, bias.shape, bias.data));
    const conv = graph.addNode('Conv', inputs, `${base}/conv`, {
      kernel_shape: attr.ints([kh, kw]), strides: attr.ints([sh, sw]), dilations: attr.ints([dh, dw]), pads: attr.ints(pads),
    });
    const shape = outputShape(ctx);
    const activated = emitActivation(graph, { name: conv, shape, dtype: 'float32' }, config.activation, base, `layer '${layer.name}' (Conv2D)`);
    return [{ name: activated, shape, dtype: 'float32' }];
  },
};
