// ganforge's browser library, built to /web/ganforge.js: load an exported generator, sample it in the page with the
// server's own sampling code, draw the results. Importing it in a browser also registers <gan-sampler>.

export { GanforgeError, InvalidParameterError, type ErrorCode } from '../../common/errors.ts';
export type { ModelManifest } from '../../common/manifest.ts';
export type { GridOptions, RasterImage } from '../../common/pixels.ts';
export type { TruncationMode } from '../../common/truncation.ts';
export { defaultMixFrom, type MixRequest, type StyleMix } from '../../common/style-mixing.ts';
export { drawToCanvas, toImageData, toPngBlob, toPngBytes, toRaster, type ImageBatch } from './draw.ts';
export { GAN_SAMPLER_ATTRIBUTES, defineGanSampler, sharedGenerator, type GanSamplerRenderDetail, type GanSamplerSamplingDetail } from './gan-sampler.ts';
export {
  DEFAULT_MAX_IMAGES,
  Generator,
  loadGenerator,
  modelNameFromUrl,
  type GenerateRequest,
  type GenerateResult,
  type GeneratorInfo,
  type InferenceThread,
  type InterpolateRequest,
  type LoadGeneratorOptions,
  type LoadProgress,
} from './generator.ts';
export { interpolateLatents, type InterpolationMode } from './interpolate.ts';
export type { Backend, WebRuntimeOptions } from './ort-web.ts';

import { defineGanSampler } from './gan-sampler.ts';

defineGanSampler();
