// Shared by the exporter tests: seeded random weights (including BatchNorm moving statistics, which a fresh model
// has at 0/1 and would hide a wrong fold), and a runner that compares tfjs predict with the exported graph in the
// real onnxruntime-node.

import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../../common/random.ts';
import { MANIFEST_FORMAT, type ModelManifest } from '../../common/manifest.ts';
import { createNodeSession, ort } from '../../runtime/ort-node.ts';
import { exportLayersModel, type GraphInputBinding } from '../../export/export-graph.ts';

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
}

/** Exports `model` with inputs named as given and one output 'out'. */
export function exportForTest(model: tf.LayersModel, inputs: TestInput[]): Uint8Array {
  const bindings: GraphInputBinding[] = inputs.map((i) => ({ name: i.name, kind: i.kind ?? 'float' }));
  return exportLayersModel(model, { inputs: bindings, outputs: [{ name: 'out' }], graphName: 'test' });
}

/** Runs both and returns max |Δ| plus the two outputs. */
export async function compareWithTfjs(
  model: tf.LayersModel,
  bytes: Uint8Array,
  inputs: TestInput[],
): Promise<{ maxAbsDiff: number; onnx: Float32Array; tfjs: Float32Array; onnxDims: readonly number[] }> {
  const tfjsOut = tf.tidy(() => {
    const tensors = inputs.map((i) => tf.tensor(i.data, i.shape));
    return model.predict(tensors.length === 1 ? tensors[0]! : tensors) as tf.Tensor;
  });
  const expected = tfjsOut.dataSync() as Float32Array;
  tfjsOut.dispose();
  const { onnx, dims } = await runOnnx(bytes, inputs);
  let maxAbsDiff = 0;
  if (onnx.length !== expected.length) throw new Error(`ONNX gave ${onnx.length} values, tfjs ${expected.length}`);
  for (let i = 0; i < onnx.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(onnx[i]! - expected[i]!));
  if (Number.isNaN(onnx.reduce((a, b) => a + b, 0))) maxAbsDiff = NaN;
  return { maxAbsDiff, onnx, tfjs: expected, onnxDims: dims };
}

/** Runs the ONNX model in onnxruntime-node on the given inputs; returns output 'out' (or the first output). */
export async function runOnnx(bytes: Uint8Array, inputs: TestInput[], outputName?: string): Promise<{ onnx: Float32Array; dims: readonly number[] }> {
  const { session } = await createNodeSession(bytes, { device: 'cpu' });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of inputs) {
      feeds[i.name] = i.kind === 'label'
        ? new ort.Tensor('int64', BigInt64Array.from(Array.from(i.data, (v) => BigInt(v))), [i.shape[0]!])
        : new ort.Tensor('float32', i.data, i.shape);
    }
    const results = await session.run(feeds);
    const out = results[outputName ?? session.outputNames[0]!]!;
    return { onnx: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
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
