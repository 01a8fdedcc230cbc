// The exporter's layer registry: tfjs class name → converter. Adding a layer type = one file in export/ops/ + one line
// here (+ its parity cases in test/export/layer-cases.ts, run in onnxruntime-node and onnxruntime-web).

import { GanforgeError } from '../../common/errors.ts';
import { activationExporter } from './activation.ts';
import { adaptiveInstanceNormExporter } from './adaptive-instance-norm.ts';
import { addExporter } from './add.ts';
import { batchNormalizationExporter } from './batch-normalization.ts';
import { concatenateExporter } from './concatenate.ts';
import { constantInputExporter } from './constant-input.ts';
import { conv2dExporter } from './conv2d.ts';
import { conv2dTransposeExporter } from './conv2d-transpose.ts';
import { cropping2dExporter } from './cropping2d.ts';
import { denseExporter } from './dense.ts';
import { dropoutExporter } from './dropout.ts';
import { embeddingExporter } from './embedding.ts';
import { flattenExporter } from './flatten.ts';
import { inputLayerExporter } from './input-layer.ts';
import type { LayerExporter } from './layer-exporter.ts';
import { layerNormalizationExporter } from './layer-normalization.ts';
import { leakyReluExporter } from './leaky-relu.ts';
import { mixingLatentExporter } from './mixing-latent.ts';
import { multiplyExporter } from './multiply.ts';
import { noiseInjectionExporter } from './noise-injection.ts';
import { pixelNormExporter } from './pixel-norm.ts';
import { reluExporter } from './relu.ts';
import { reshapeExporter } from './reshape.ts';
import { styleMixingExporter } from './style-mixing.ts';
import { upSampling2dExporter } from './up-sampling2d.ts';
import { wSpaceTruncationExporter } from './w-space-truncation.ts';
import { zeroPadding2dExporter } from './zero-padding2d.ts';

export const LAYER_EXPORTERS: Readonly<Record<string, LayerExporter>> = Object.freeze(
  Object.fromEntries(
    [
      activationExporter, addExporter, batchNormalizationExporter, concatenateExporter, conv2dExporter, conv2dTransposeExporter,
      cropping2dExporter, denseExporter, dropoutExporter, embeddingExporter, flattenExporter, inputLayerExporter, layerNormalizationExporter,
      leakyReluExporter, multiplyExporter, reluExporter, reshapeExporter, upSampling2dExporter, zeroPadding2dExporter,
      // stylegan-lite's layers (train/models/layers/).
      adaptiveInstanceNormExporter, constantInputExporter, mixingLatentExporter, noiseInjectionExporter, pixelNormExporter,
      styleMixingExporter, wSpaceTruncationExporter,
    ].map((e) => [e.className, e]),
  ),
);

export const SUPPORTED_LAYERS: readonly string[] = Object.freeze(Object.keys(LAYER_EXPORTERS).sort());

/** The converter for a tfjs class name; UNSUPPORTED_LAYER naming it and the supported list otherwise. */
export function layerExporterFor(className: string, layerName: string): LayerExporter {
  const exporter = Object.hasOwn(LAYER_EXPORTERS, className) ? LAYER_EXPORTERS[className] : undefined;
  if (exporter === undefined) {
    throw new GanforgeError(
      'UNSUPPORTED_LAYER',
      `layer '${layerName}' is a ${className}, which the ONNX exporter does not support; supported layers: ${SUPPORTED_LAYERS.join(', ')}`,
    );
  }
  return exporter;
}
