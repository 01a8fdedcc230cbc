// Shared by the exporter tests: seeded random weights (including BatchNorm moving statistics, which a fresh model
// has at 0/1 and would hide a wrong fold), and a runner that compares tfjs predict with the exported graph in the
// real onnxruntime-node (the server's runtime) or onnxruntime-web's wasm build run in Node (the page's).

import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { SeededRandom } from '../../common/random.ts';
import { MANIFEST_FORMAT, type ModelManifest } from '../../common/manifest.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { createWebSession } from '../../web/src/ort-web.ts';
import { exportLayersModel, type GraphInputBinding } from '../../export/export-graph.ts';

/** The runtimes an exported model must agree with tfjs in. */
export type OnnxRuntimeName = 'onnxruntime-node' | 'onnxruntime-web';

let backendReady: Promise<boolean> | undefined;
/** The tests run on tfjs's cpu backend: deterministic and always available. */
export function useCpuBackend(): Promise<boolean> {
  backendReady ??= tf.setBackend('cpu');
  return backendReady;
}

/** Sets every weight of `model` to seeded values; variances stay positive, BN gammas near 1. */
export function randomizeWeights(model: tf.LayersModel, seed: number, scale = 0.3): void {
  const random = new SeededRandom(seed);
  for (const layer of model.layers) {
    const values = layer.getWeights().map((w, i) => {
      const short = layer.weights[i]!.originalName.split('/').pop()!;
      const data = new Float32Array(w.size);
      for (let j = 0; j < data.length; j++) {
        const u = random.nextOpenUnit();
        if (short.startsWith('moving_variance')) data[j] = 0.2 + 2 * u;
        else if (short.startsWith('gamma')) data[j] = 0.5 + u;
        else if (short.startsWith('moving_mean')) data[j] = (u - 0.5) * 2;
        else data[j] = (u - 0.5) * 2 * scale;
      }
      return tf.tensor(data, w.shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Seeded standard-normal-ish values in [-2, 2] for test inputs. */
export function randomValues(count: number, seed: number): Float32Array {
  const random = new SeededRandom(seed, 7);
  return Float32Array.from({ length: count }, () => (random.nextOpenUnit() - 0.5) * 4);
}

export interface TestInput {
  /** ONNX input name. */
  name: string;
  /** Values, row-major in the tfjs layout. */
  data: Float32Array;
  /** Full tfjs shape including batch. */
  shape: number[];
  /** 'label' inputs go to ONNX as int64 [batch]. Default 'float'. */
  kind?: 'float' | 'label';
  /** An input only the ONNX graph has (a w-space generator's ψ); tfjs is not given it. Default false. */
  onnxOnly?: boolean;
}

/** Exports `model` with inputs named as given and one output 'out'. */
export function exportForTest(model: tf.LayersModel, inputs: TestInput[]): Uint8Array {
  const bindings: GraphInputBinding[] = inputs.filter((i) => i.onnxOnly !== true).map((i) => ({ name: i.name, kind: i.kind ?? 'float' }));
  return exportLayersModel(model, { inputs: bindings, outputs: [{ name: 'out' }], graphName: 'test' });
}

/** Runs tfjs and `runtime` (default onnxruntime-node) and returns max |Δ| plus the two outputs. */
export async function compareWithTfjs(
  model: tf.LayersModel,
  bytes: Uint8Array,
  inputs: TestInput[],
  runtime: OnnxRuntimeName = 'onnxruntime-node',
): Promise<{ maxAbsDiff: number; onnx: Float32Array; tfjs: Float32Array; onnxDims: readonly number[] }> {
  const tfjsOut = tf.tidy(() => {
    // Labels as int32, as the conditional families declare them (an Embedding casts a float label anyway).
    const tensors = inputs.filter((i) => i.onnxOnly !== true).map((i) => (i.kind === 'label' ? tf.tensor(i.data, i.shape, 'int32') : tf.tensor(i.data, i.shape)));
    return model.predict(tensors.length === 1 ? tensors[0]! : tensors) as tf.Tensor;
  });
  const expected = tfjsOut.dataSync() as Float32Array;
  tfjsOut.dispose();
  const { onnx, dims } = await runOnnx(bytes, inputs, undefined, runtime);
  let maxAbsDiff = 0;
  if (onnx.length !== expected.length) throw new Error(`ONNX gave ${onnx.length} values, tfjs ${expected.length}`);
  for (let i = 0; i < onnx.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(onnx[i]! - expected[i]!));
  if (Number.isNaN(onnx.reduce((a, b) => a + b, 0))) maxAbsDiff = NaN;
  return { maxAbsDiff, onnx, tfjs: expected, onnxDims: dims };
}

/**
 * Runs the ONNX model in `runtime` (default onnxruntime-node, CPU; onnxruntime-web: its wasm build, one thread, set up
 * once per process by web/src/ort-web.ts) on the given inputs; returns output `outputName` (default the first).
 */
export async function runOnnx(
  bytes: Uint8Array,
  inputs: TestInput[],
  outputName?: string,
  runtime: OnnxRuntimeName = 'onnxruntime-node',
): Promise<{ onnx: Float32Array; dims: readonly number[] }> {
  // Both packages re-export the one onnxruntime-common, so their Tensor and session types coincide; each session
  // must still be fed tensors made by its own package.
  const { session, Tensor } = runtime === 'onnxruntime-web'
    ? await createWebSession(bytes, { backend: 'wasm', numThreads: 1 }).then((s) => ({ session: s.session, Tensor: s.ort.Tensor }))
    : await createNodeSession(bytes, { device: 'cpu' }).then((s) => ({ session: s.session, Tensor: ort.Tensor }));
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of inputs) {
      feeds[i.name] = i.kind === 'label'
        ? new Tensor('int64', BigInt64Array.from(Array.from(i.data, (v) => BigInt(v))), [i.shape[0]!])
        : new Tensor('float32', i.data, i.shape);
    }
    const results = await session.run(feeds);
    const out = results[outputName ?? session.outputNames[0]!]!;
    return { onnx: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
}

/** One node of an exported model, decoded from its bytes: op type and attributes by name. */
export interface DecodedNode {
  opType: string;
  name: string;
  attributes: Map<string, onnxProto.onnx.AttributeProto>;
}

/** Decodes an exported ModelProto's nodes with onnx-proto (what a consumer of the file sees, not what the builder meant). */
export function decodeNodes(bytes: Uint8Array): DecodedNode[] {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  return (model.graph?.node ?? []).map((node) => ({
    opType: node.opType ?? '',
    name: node.name ?? '',
    attributes: new Map((node.attribute ?? []).map((a) => [a.name ?? '', onnxProto.onnx.AttributeProto.create(a)])),
  }));
}

/**
 * Why each ConvTranspose node would leave onnxruntime's CUDA provider for the CPU (asymmetric pads or auto_pad other
 * than NOTSET, per ConvTransposeNeedFallbackToCPU); empty when every ConvTranspose stays on the GPU.
 */
export function convTransposeCudaFallbacks(bytes: Uint8Array): string[] {
  const problems: string[] = [];
  for (const node of decodeNodes(bytes)) {
    if (node.opType !== 'ConvTranspose') continue;
    const autoPad = node.attributes.get('auto_pad');
    if (autoPad !== undefined) {
      const value = new TextDecoder().decode(autoPad.s);
      if (value !== 'NOTSET') problems.push(`${node.name}: auto_pad=${value}`);
    }
    const pads = (node.attributes.get('pads')?.ints ?? []).map(Number);
    const half = pads.length / 2;
    if (pads.some((p, i) => i < half && p !== pads[i + half])) problems.push(`${node.name}: asymmetric pads [${pads.join(', ')}]`);
  }
  return problems;
}

/** A valid manifest for a test generator. */
export function testManifest(overrides: Partial<ModelManifest> & Pick<ModelManifest, 'latentDim' | 'imageShape'>): ModelManifest {
  const classes = overrides.classes ?? null;
  return {
    format: MANIFEST_FORMAT,
    family: 'test',
    classes,
    valueRange: [-1, 1],
    inputs: { latent: 'z', label: classes === null ? null : 'label' },
    output: 'image',
    truncationModes: ['psi', 'resample'],
    training: { dataset: 'mnist', steps: 0, epochs: 0, batchSize: 1, seed: 1, backend: 'cpu', loss: 'non-saturating', command: 'test' },
    ganforgeVersion: '0.1.0',
    ...overrides,
  };
}

/** What exportStyleGenerator builds: a narrow style generator of the registry, exported as `ganforge export` would. */
export interface StyleExportOptions {
  family?: 'stylegan-lite' | 'cstylegan-lite';
  imageShape: [number, number, number];
  /** Class names of a cstylegan-lite; ignored for stylegan-lite. Default the ten digits. */
  classes?: string[];
  latentDim: number;
  /** Seed of the builder. Default 4. */
  seed?: number;
  /** randomizeWeights seed and scale (a non-zero mean w per class comes with them). Default 9, 0.3. */
  weightSeed?: number;
  weightScale?: number;
}

/** A small style generator with seeded random weights, exported with its manifest (w-space ψ, the mixing inputs). */
export async function exportStyleGenerator(options: StyleExportOptions): Promise<Uint8Array> {
  await useCpuBackend();
  const { family: name = 'cstylegan-lite', imageShape, latentDim, seed = 4, weightSeed = 9, weightScale = 0.3 } = options;
  const { getFamily, resolveFamilyConfig } = await import('../../train/models/registry.ts');
  const { exportGenerator, generatorConventions } = await import('../../export/export-generator.ts');
  const family = getFamily(name);
  const classes = family.conditional ? (options.classes ?? ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) : null;
  const model = family.buildGenerator(resolveFamilyConfig(family, { wDim: 8, synthesisChannels: 8, mappingLayers: 2 }), { imageShape, numClasses: classes?.length ?? null, latentDim, seed });
  randomizeWeights(model, weightSeed, weightScale);
  const bytes = exportGenerator(model, { ...testManifest({ family: name, latentDim, imageShape, classes }), ...generatorConventions(model) });
  model.dispose();
  return bytes;
}
