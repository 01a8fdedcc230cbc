// Parity check between a tfjs generator and its exported ONNX model: both run on the same seeded latents (and labels
// cycling through the classes; for a style-mixing model, second latents and crossovers cycling through every layer
// and "none"), in the real onnxruntime-node and tfjs `predict`. An export is only kept when they
// agree, so a mapping bug can never reach the server as plausible-looking but wrong images.

import * as tf from '@tensorflow/tfjs';
import { GanforgeError } from '../common/errors.ts';
import { sampleLatents } from '../common/latents.ts';
import { truncationInputOf, type ModelManifest } from '../common/manifest.ts';
import { styleMixingFeeds } from '../common/style-mixing.ts';
import { MixingLatent } from '../train/models/layers/mixing-latent.ts';
import { StyleMixing } from '../train/models/layers/style-mixing.ts';
import { WSpaceTruncation } from '../train/models/layers/w-space-truncation.ts';
import { createNodeSession, ort } from '../runtime/ort-node.ts';
import { generatorInputs } from './export-generator.ts';

export interface ParityOptions {
  /** Number of seeded latents compared. Default 256. */
  samples?: number;
  /** Largest accepted |tfjs − ONNX| over all pixels. Default 1e-4. */
  tolerance?: number;
  /** Seed of the latents. Default 20240601. */
  seed?: number;
  /** Images per inference call. Default 64. */
  batchSize?: number;
  /** w-space models: the ψ values checked, each over all samples (tfjs applies the same ψ in its truncation layer). Default [1, 0.5]. */
  psiValues?: number[];
}

export interface ParityReport {
  samples: number;
  /** Largest |tfjs − ONNX| over every pixel of every sample. */
  maxAbsDiff: number;
  /** Mean |tfjs − ONNX| over every pixel of every sample. */
  meanAbsDiff: number;
  tolerance: number;
  seed: number;
  /** tfjs backend that produced the reference. */
  backend: string;
}

/** Compares `model.predict` with the ONNX model; throws PARITY_FAILED when max |Δ| > tolerance (or any value is NaN). */
export async function verifyGeneratorParity(
  model: tf.LayersModel,
  onnxModel: Uint8Array | string,
  manifest: ModelManifest,
  options: ParityOptions = {},
): Promise<ParityReport> {
  const { samples = 256, tolerance = 1e-4, seed = 20240601, batchSize = 64, psiValues = [1, 0.5] } = options;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`'samples' must be a positive integer, got ${samples}`);
  if (!(tolerance >= 0)) throw new RangeError(`'tolerance' must be a number ≥ 0, got ${tolerance}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`'batchSize' must be a positive integer, got ${batchSize}`);
  const bound = generatorInputs(model, manifest);
  const psiInput = truncationInputOf(manifest);
  const truncationLayer = model.layers.find((l): l is WSpaceTruncation => l instanceof WSpaceTruncation);
  if ((psiInput === null) !== (truncationLayer === undefined)) {
    throw new GanforgeError('PARITY_FAILED', `the manifest's truncation kind (${manifest.truncation?.kind ?? 'latent'}) does not match the generator (${truncationLayer ? 'has' : 'has no'} a w-space truncation layer)`);
  }
  const mixingLayers = manifest.styleMixing === undefined ? null : {
    latent: model.layers.find((l): l is MixingLatent => l instanceof MixingLatent),
    styles: model.layers.find((l): l is StyleMixing => l instanceof StyleMixing),
  };
  if (mixingLayers !== null && (mixingLayers.latent === undefined || mixingLayers.styles === undefined)) {
    throw new GanforgeError('PARITY_FAILED', 'the manifest offers style mixing but the generator has no MixingLatent and StyleMixing layers');
  }
  const { session } = await createNodeSession(onnxModel, { device: 'cpu' });
  let maxAbsDiff = 0;
  let sumAbsDiff = 0;
  let count = 0;
  try {
    for (const psi of psiInput === null ? [null] : psiValues) {
      if (truncationLayer !== undefined) truncationLayer.psi = psi!;
      for (let first = 0; first < samples; first += batchSize) {
        const n = Math.min(batchSize, samples - first);
        const z = sampleLatents({ latentDim: manifest.latentDim, count: n, seed, firstIndex: first });
        const labels = manifest.classes === null ? null : Array.from({ length: n }, (_, i) => (first + i) % manifest.classes!.length);
        const feeds: Record<string, ort.Tensor> = { [manifest.inputs.latent]: new ort.Tensor('float32', z, [n, manifest.latentDim]) };
        if (labels !== null) feeds[manifest.inputs.label!] = new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [n]);
        if (psiInput !== null) feeds[psiInput] = new ort.Tensor('float32', new Float32Array(n).fill(psi!), [n, 1]);
        const mix = manifest.styleMixing === undefined ? null : {
          latent: sampleLatents({ latentDim: manifest.latentDim, count: n, seed: seed + 1, firstIndex: first }),
          from: Float32Array.from({ length: n }, (_, i) => (first + i) % (manifest.styleMixing!.layers + 1)),
        };
        for (const feed of styleMixingFeeds(manifest, n, z, mix)) feeds[feed.name] = new ort.Tensor('float32', feed.data, feed.dims);
        const onnxOut = (await session.run(feeds))[manifest.output];
        if (onnxOut === undefined) throw new GanforgeError('PARITY_FAILED', `the ONNX model has no output '${manifest.output}'`);
        const reference = tf.tidy(() => {
          const inputs: tf.Tensor[] = [];
          inputs[bound.latent] = tf.tensor2d(z, [n, manifest.latentDim]);
          if (bound.label !== null) inputs[bound.label] = labelTensor(model.inputs[bound.label]!, labels!);
          if (mix !== null) {
            mixingLayers!.latent!.inferenceLatent = tf.tensor2d(mix.latent, [n, manifest.latentDim]);
            mixingLayers!.styles!.inferenceCrossover = mix.from;
          }
          try {
            // One predict batch: tfjs would split the inputs into batches of 32, but not the mixing latents set above.
            return model.predict(inputs.length === 1 ? inputs[0]! : inputs, { batchSize: n }) as tf.Tensor;
          } finally {
            if (mixingLayers !== null) {
              mixingLayers.latent!.inferenceLatent = null;
              mixingLayers.styles!.inferenceCrossover = null;
            }
          }
        });
        const expected = reference.dataSync();
        reference.dispose();
        const actual = onnxOut.data as Float32Array;
        if (actual.length !== expected.length) {
          throw new GanforgeError('PARITY_FAILED', `ONNX output has ${actual.length} values for ${n} images, tfjs ${expected.length}`);
        }
        for (let i = 0; i < actual.length; i++) {
          const d = Math.abs(actual[i]! - expected[i]!);
          if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? NaN : d;
          if (Number.isNaN(maxAbsDiff)) break;
          sumAbsDiff += d;
        }
        count += actual.length;
      }
    }
  } finally {
    // tfjs samples at ψ = 1 again (the layer's inference default).
    if (truncationLayer !== undefined) truncationLayer.psi = 1;
    await session.release();
  }
  const report: ParityReport = { samples, maxAbsDiff, meanAbsDiff: sumAbsDiff / count, tolerance, seed, backend: tf.getBackend() };
  if (!(maxAbsDiff <= tolerance)) {
    throw new GanforgeError(
      'PARITY_FAILED',
      `exported ONNX disagrees with the tfjs generator: max |Δ| ${maxAbsDiff} > tolerance ${tolerance} over ${samples} samples (mean |Δ| ${report.meanAbsDiff})`,
    );
  }
  return report;
}

/** The label batch in the shape and dtype the tfjs model declares ([B] or [B, 1], float32 or int32). */
function labelTensor(input: tf.SymbolicTensor, labels: number[]): tf.Tensor {
  const dtype = input.dtype === 'int32' ? 'int32' : 'float32';
  return input.shape.length === 1 ? tf.tensor1d(labels, dtype) : tf.tensor2d(labels, [labels.length, 1], dtype);
}
