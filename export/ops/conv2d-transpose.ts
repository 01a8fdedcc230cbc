// Conv2DTranspose → ConvTranspose on NCHW values. Kernel [h, w, out, in] → [in, out, h, w] (transpose [3, 2, 0, 1]).
// TensorFlow's 'same' trims k − s pixels, floor((k − s)/2) at the start and the rest at the end. When that split is
// uneven (k5 s2, k3 s2) the graph pads symmetrically with the smaller half and Slices the extra row/column off the
// end: asymmetric pads or auto_pad=SAME_* make onnxruntime's CUDA provider fall back to CPU for the whole op, and
// SAME_LOWER is plainly wrong for TF semantics. Output sizes tfjs gets beyond ONNX's natural size (k < s) become
// output_padding.

import { attr } from '../onnx-graph.ts';
import { emitActivation } from './activation.ts';
import {
  configPair, outputShape, requireChannelsLast, requireWeight, singleInput, staticDims, transposeWeight, unsupportedConfig, type LayerExporter,
} from './layer-exporter.ts';

export const conv2dTransposeExporter: LayerExporter = {
  className: 'Conv2DTranspose',
  convert(ctx) {
    const { graph, layer, config } = ctx;
    requireChannelsLast(ctx);
    const input = singleInput(ctx);
    const base = layer.name;
    const inSize = staticDims(ctx, input.shape).slice(0, 2);
    const shape = outputShape(ctx);
    const outSize = staticDims(ctx, shape).slice(0, 2);
    const kernelSize = configPair(ctx, 'kernelSize');
    const strides = configPair(ctx, 'strides', 1);
    if (config.padding !== 'same' && config.padding !== 'valid') unsupportedConfig(ctx, 'padding', config.padding, "'same', 'valid'");
    const [dh, dw] = configPair(ctx, 'dilationRate', 1);
    if (dh !== 1 || dw !== 1) unsupportedConfig(ctx, 'dilationRate', config.dilationRate, '1');

    const pad = [0, 0];
    const outputPadding = [0, 0];
    const natural = [0, 0];
    for (let axis = 0; axis < 2; axis++) {
      const k = kernelSize[axis]!;
      const s = strides[axis]!;
      if (config.padding === 'same') pad[axis] = Math.floor(Math.max(k - s, 0) / 2);
      natural[axis] = s * (inSize[axis]! - 1) + k - 2 * pad[axis]!;
      const extra = outSize[axis]! - natural[axis]!;
      if (extra > 0) {
        if (extra >= s) unsupportedConfig(ctx, 'output size', shape, `one ONNX ConvTranspose can reach (got ${extra} beyond ${natural[axis]!})`);
        outputPadding[axis] = extra;
        natural[axis] = outSize[axis]!;
      }
    }
    const kernel = transposeWeight(requireWeight(ctx, 'kernel'), [3, 2, 0, 1]);
    const inputs = [input.name, graph.addFloatInitializer(`${base}/kernel`, kernel.dims, kernel.data)];
    const bias = config.useBias === false ? undefined : ctx.weight('bias');
    if (bias !== undefined) inputs.push(graph.addFloatInitializer(`${base}/bias`, bias.shape, bias.data));
    let y = graph.addNode('ConvTranspose', inputs, `${base}/conv_transpose`, {
      kernel_shape: attr.ints(kernelSize),
      strides: attr.ints(strides),
      pads: attr.ints([pad[0]!, pad[1]!, pad[0]!, pad[1]!]),
      ...(outputPadding.some((p) => p > 0) ? { output_padding: attr.ints(outputPadding) } : {}),
    });
    if (natural[0]! > outSize[0]! || natural[1]! > outSize[1]!) {
      // Keep rows/columns [0, out) of H and W: the surplus of the symmetric pad is at the end.
      const starts = graph.addInt64Initializer(`${base}/slice_starts`, [0, 0]);
      const ends = graph.addInt64Initializer(`${base}/slice_ends`, outSize);
      const axes = graph.addInt64Initializer(`${base}/slice_axes`, [2, 3]);
      y = graph.addNode('Slice', [y, starts, ends, axes], `${base}/trim`);
    }
    const activated = emitActivation(graph, { name: y, shape, dtype: 'float32' }, config.activation, base, `layer '${layer.name}' (Conv2DTranspose)`);
    return [{ name: activated, shape, dtype: 'float32' }];
  },
};
