// Writes an exported generator as a Triton Inference Server model repository entry, so a deployment that outgrows the
// Node server can serve the very same .onnx on Triton (or KServe, which runs Triton for ONNX):
//   <dir>/<name>/config.pbtxt      platform onnxruntime_onnx, batching on, names/types/dims from the manifest
//   <dir>/<name>/1/model.onnx      the bytes exported (version 1)
// Triton's batch dimension is implicit when max_batch_size > 0 (model_config.proto, ModelConfig.max_batch_size), so
// dims list only the per-image shape; the label input is [batch] in the graph, i.e. zero per-image dims, which Triton
// expresses as dims [1] with reshape { shape: [] } (model_configuration.md, "Reshape").

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { truncationInputOf, type ModelManifest } from '../common/manifest.ts';

/** Triton model names become folder names: keep them to a safe set. */
export const TRITON_MODEL_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export interface TritonExportOptions {
  /** Model repository folder (created if missing); the model goes in <dir>/<name>/. */
  dir: string;
  /** Model name (folder name, and `name` in config.pbtxt). */
  name: string;
  /** The exported .onnx bytes. */
  onnx: Uint8Array;
  /** The manifest embedded in those bytes (input/output names, latent width, image shape). */
  manifest: ModelManifest;
  /** Largest batch Triton forms. Default 64 (the Node server's default maxBatchImages). */
  maxBatchSize?: number;
  /** Batch sizes the dynamic batcher runs at once when it can form them. Default [8, 32] (those ≤ maxBatchSize). */
  preferredBatchSizes?: number[];
  /** How long a request may wait for others to batch with, µs. Default 1000. */
  maxQueueDelayMicroseconds?: number;
  /** Model instances per device (instance_group count). Default 1. */
  instances?: number;
}

export interface TritonExportResult {
  modelDir: string;
  configPath: string;
  onnxPath: string;
  config: string;
}

/** Renders config.pbtxt (protobuf text format of Triton's inference.ModelConfig). */
export function tritonConfig(options: Omit<TritonExportOptions, 'dir' | 'onnx'>): string {
  const { name, manifest, maxBatchSize = 64, maxQueueDelayMicroseconds = 1000, instances = 1 } = options;
  if (!TRITON_MODEL_NAME_PATTERN.test(name)) throw new RangeError(`'name' must match ${TRITON_MODEL_NAME_PATTERN.source}, got '${name}'`);
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new RangeError(`'maxBatchSize' must be an integer ≥ 1, got ${maxBatchSize}`);
  if (!Number.isInteger(maxQueueDelayMicroseconds) || maxQueueDelayMicroseconds < 0) {
    throw new RangeError(`'maxQueueDelayMicroseconds' must be an integer ≥ 0, got ${maxQueueDelayMicroseconds}`);
  }
  if (!Number.isInteger(instances) || instances < 1) throw new RangeError(`'instances' must be an integer ≥ 1, got ${instances}`);
  const preferred = options.preferredBatchSizes ?? [8, 32].filter((b) => b <= maxBatchSize);
  for (const size of preferred) {
    if (!Number.isInteger(size) || size < 1 || size > maxBatchSize) {
      throw new RangeError(`'preferredBatchSizes' must hold integers in [1, ${maxBatchSize}] (maxBatchSize), got ${size}`);
    }
  }
  const [height, width, channels] = manifest.imageShape;
  const q = (s: string) => JSON.stringify(s); // text-format strings accept the same escapes as JSON for these names
  const inputs = [
    `  {\n    name: ${q(manifest.inputs.latent)}\n    data_type: TYPE_FP32\n    dims: [ ${manifest.latentDim} ]\n  }`,
    ...(manifest.inputs.label === null
      ? []
      : [`  {\n    name: ${q(manifest.inputs.label)}\n    data_type: TYPE_INT64\n    dims: [ 1 ]\n    reshape: { shape: [ ] }\n  }`]),
    // A w-space model's ψ and a style-mixing model's inputs are graph inputs too: Triton refuses a config that omits one.
    ...[truncationInputOf(manifest), manifest.styleMixing?.crossoverInput].filter((n): n is string => typeof n === 'string')
      .map((name) => `  {\n    name: ${q(name)}\n    data_type: TYPE_FP32\n    dims: [ 1 ]\n  }`),
    ...(manifest.styleMixing === undefined ? [] : [`  {\n    name: ${q(manifest.styleMixing.latentInput)}\n    data_type: TYPE_FP32\n    dims: [ ${manifest.latentDim} ]\n  }`]),
  ];
  return [
    `# ganforge ${manifest.family} generator: z ~ N(0, I) of width ${manifest.latentDim}${manifest.classes === null ? '' : `, label in [0, ${manifest.classes.length - 1}] (${manifest.classes.join(', ')})`}.`,
    `# Output: NHWC images in [${manifest.valueRange.join(', ')}]. Seeded latents and truncation are computed by the client (see common/latents.ts).`,
    `name: ${q(name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatchSize}`,
    `input [\n${inputs.join(',\n')}\n]`,
    `output [\n  {\n    name: ${q(manifest.output)}\n    data_type: TYPE_FP32\n    dims: [ ${height}, ${width}, ${channels} ]\n  }\n]`,
    `dynamic_batching {\n${preferred.length === 0 ? '' : `  preferred_batch_size: [ ${preferred.join(', ')} ]\n`}  max_queue_delay_microseconds: ${maxQueueDelayMicroseconds}\n}`,
    `instance_group [\n  {\n    count: ${instances}\n    kind: KIND_AUTO\n  }\n]`,
    '',
  ].join('\n');
}

/** Writes <dir>/<name>/config.pbtxt and <dir>/<name>/1/model.onnx; overwrites an existing version 1. */
export function exportTritonModel(options: TritonExportOptions): TritonExportResult {
  const config = tritonConfig(options);
  const modelDir = resolve(options.dir, options.name);
  mkdirSync(join(modelDir, '1'), { recursive: true });
  const onnxPath = join(modelDir, '1', 'model.onnx');
  const configPath = join(modelDir, 'config.pbtxt');
  writeFileSync(onnxPath, options.onnx);
  writeFileSync(configPath, config);
  return { modelDir, configPath, onnxPath, config };
}
