// `ganforge eval`: how good is an exported generator, measured rather than eyeballed. Samples the .onnx through the
// server's own generation path (seeded latents, truncation, labels → onnxruntime-node), shows the samples and the
// MNIST test set to the cached judge classifier, and reports conditional accuracy, a Fréchet distance on the judge's
// features, class coverage, confidence and diversity.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { GanforgeError } from '../common/errors.ts';
import type { ModelManifest } from '../common/manifest.ts';
import { readManifest } from '../common/onnx-metadata.ts';
import type { TruncationMode } from '../common/truncation.ts';
import { loadDataset } from '../train/dataset/registry.ts';
import { generateImages, type GeneratorRunner } from '../runtime/generator-runner.ts';
import { openSessionRunner } from '../runtime/session-runner.ts';
import { argmax, judgeImages, loadOrTrainClassifier, type ClassifierOptions, type Judge } from './classifier.ts';
import { frechetDistance, gaussianFit } from './frechet.ts';

export interface EvaluateOptions {
  /** Path of the exported generator. */
  modelPath: string;
  /** Truncation settings to measure, each a value in (0, 1]. Default [1]. */
  truncations?: number[];
  truncationMode?: TruncationMode;
  /** Generated samples per class (conditional) or in all (unconditional ÷ 10). Default 1000 → 10,000 samples. */
  samplesPerClass?: number;
  /** Seed of the first sample batch; batch k uses seed + k. Default 1000. */
  seed?: number;
  /** Options of the judge classifier (cache folder, epochs). */
  classifier?: ClassifierOptions;
}

export interface SampleMetrics {
  truncation: number;
  samples: number;
  /** Share of samples the judge assigns to the requested class (conditional models), else null. */
  conditionalAccuracy: number | null;
  /** Per class, index = label (conditional models), else null. */
  perClassAccuracy: number[] | null;
  /** Fréchet distance between judge features of the samples and of the 10k MNIST test images (lower is better). */
  frechetDistance: number;
  /** Entropy of the judge's predicted-class histogram ÷ ln(10): 1 = all classes equally often. */
  classCoverage: number;
  /** Mean of the judge's top probability: how recognisable samples are (quality). */
  meanConfidence: number;
  /** Mean over predicted classes of √trace(feature covariance): spread within a class (diversity). */
  diversity: number;
}

export interface EvaluationReport {
  model: string;
  family: string;
  judgeTestAccuracy: number;
  /** The same metrics for the MNIST test images themselves: the ceiling to compare with. */
  reference: SampleMetrics;
  results: SampleMetrics[];
  protocol: string;
}

const BATCH = 250;

export async function evaluateGenerator(options: EvaluateOptions): Promise<EvaluationReport> {
  const { modelPath, truncations = [1], truncationMode = 'psi', samplesPerClass = 1000, seed = 1000 } = options;
  const bytes = new Uint8Array(await readFile(modelPath));
  const manifest = readManifest(bytes, modelPath);
  const [height, width, channels] = manifest.imageShape;
  if (height !== 28 || width !== 28 || channels !== 1) {
    throw new GanforgeError('INVALID_MODEL', `${modelPath}: the MNIST judge needs 28×28×1 images, the model makes ${height}×${width}×${channels}`);
  }
  if (manifest.classes !== null && manifest.classes.length !== 10) {
    throw new GanforgeError('INVALID_MODEL', `${modelPath}: the MNIST judge knows 10 classes, the model has ${manifest.classes.length}`);
  }
  const judge = await loadOrTrainClassifier(options.classifier);
  const test = await loadDataset({ dataset: 'mnist', split: 'test' });
  const reference = measureSamples(judge, test.images, Array.from(test.labels!), 1, null);
  const name = basename(modelPath, '.onnx');
  const pool = await openSessionRunner({ models: [{ name, bytes, manifest }], device: 'cpu' });
  try {
    const results: (SampleMetrics & { frechetFit: Fit })[] = [];
    for (const truncation of truncations) {
      const { images, labels } = await sample(pool, name, manifest, { truncation, truncationMode, samplesPerClass, seed });
      results.push(measureSamples(judge, images, labels, truncation, reference.frechetFit));
    }
    return {
      model: modelPath,
      family: manifest.family,
      judgeTestAccuracy: judge.testAccuracy,
      reference: stripFit(reference),
      results: results.map(stripFit),
      protocol:
        `${samplesPerClass * 10} samples per setting (${manifest.classes === null ? 'unconditional' : `${samplesPerClass} per class`}), ` +
        `batches of ${BATCH} with seeds ${seed}, ${seed + 1}, …; judge: ${judge.dir} (MNIST train split, test accuracy ` +
        `${(judge.testAccuracy * 100).toFixed(2)}%); Fréchet reference: the 10,000 MNIST test images; truncation mode ${truncationMode}`,
    };
  } finally {
    await pool.close();
  }
}

async function sample(
  pool: GeneratorRunner,
  name: string,
  manifest: ModelManifest,
  settings: { truncation: number; truncationMode: TruncationMode; samplesPerClass: number; seed: number },
): Promise<{ images: Float32Array; labels: number[] | null }> {
  const total = settings.samplesPerClass * 10;
  const pixels = manifest.imageShape[0] * manifest.imageShape[1] * manifest.imageShape[2];
  const images = new Float32Array(total * pixels);
  const labels: number[] | null = manifest.classes === null ? null : [];
  for (let start = 0, batch = 0; start < total; start += BATCH, batch++) {
    const n = Math.min(BATCH, total - start);
    // Conditional: classes in blocks, samplesPerClass each, so every class gets the same count.
    const batchLabels = labels === null ? null : Array.from({ length: n }, (_, k) => Math.floor((start + k) / settings.samplesPerClass));
    const generated = await generateImages(pool, { name, manifest }, {
      n, seed: settings.seed + batch, labels: batchLabels, truncation: settings.truncation, truncationMode: settings.truncationMode,
    });
    images.set(generated.data, start * pixels);
    if (labels !== null) labels.push(...batchLabels!);
  }
  return { images, labels };
}

type Fit = ReturnType<typeof gaussianFit>;

/** Judges `images` (NHWC, 28×28×1, values in [-1, 1]); labels are the requested classes, or null. */
export function measureSamples(judge: Judge, images: Float32Array, labels: number[] | null, truncation: number, referenceFit: Fit | null): SampleMetrics & { frechetFit: Fit } {
  const count = images.length / (28 * 28);
  const { probabilities, features } = judgeImages(judge, images, count);
  const predicted = Array.from({ length: count }, (_, i) => argmax(probabilities, i * 10, 10));
  let confidence = 0;
  for (let i = 0; i < count; i++) confidence += probabilities[i * 10 + predicted[i]!]!;
  const histogram = new Array<number>(10).fill(0);
  for (const p of predicted) histogram[p]!++;
  let entropy = 0;
  for (const h of histogram) if (h > 0) entropy -= (h / count) * Math.log(h / count);
  let conditionalAccuracy: number | null = null;
  let perClassAccuracy: number[] | null = null;
  if (labels !== null) {
    const hits = new Array<number>(10).fill(0);
    const totals = new Array<number>(10).fill(0);
    labels.forEach((label, i) => { totals[label]!++; if (predicted[i] === label) hits[label]!++; });
    conditionalAccuracy = hits.reduce((a, b) => a + b, 0) / count;
    perClassAccuracy = hits.map((h, c) => (totals[c]! > 0 ? h / totals[c]! : 0));
  }
  const fit = gaussianFit(features, count, 128);
  return {
    truncation,
    samples: count,
    conditionalAccuracy,
    perClassAccuracy,
    frechetDistance: referenceFit === null ? 0 : frechetDistance(fit, referenceFit),
    classCoverage: entropy / Math.log(10),
    meanConfidence: confidence / count,
    diversity: withinClassSpread(features, predicted),
    frechetFit: fit,
  };
}

/** Mean over classes (with ≥ 2 members) of √trace(covariance) of their features. */
function withinClassSpread(features: Float32Array, classes: number[]): number {
  const spreads: number[] = [];
  for (let c = 0; c < 10; c++) {
    const members = classes.flatMap((p, i) => (p === c ? [i] : []));
    if (members.length < 2) continue;
    const mean = new Float64Array(128);
    for (const i of members) for (let j = 0; j < 128; j++) mean[j]! += features[i * 128 + j]!;
    for (let j = 0; j < 128; j++) mean[j]! /= members.length;
    let trace = 0;
    for (const i of members) for (let j = 0; j < 128; j++) trace += (features[i * 128 + j]! - mean[j]!) ** 2;
    spreads.push(Math.sqrt(trace / (members.length - 1)));
  }
  return spreads.reduce((a, b) => a + b, 0) / Math.max(1, spreads.length);
}

function stripFit(metrics: SampleMetrics & { frechetFit: Fit }): SampleMetrics {
  const { frechetFit: _fit, ...rest } = metrics;
  return rest;
}
