// The judge for `ganforge eval`: a small convolutional MNIST classifier trained in tfjs on the MNIST training split,
// cached on disk so every evaluation uses the same judge. Its penultimate layer (128 units) is the feature space for the
// Fréchet distance; its softmax gives conditional accuracy and class coverage.

import { existsSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../common/random.ts';
import { replaceDirectoryAtomic, writeFileAtomic } from '../train/atomic-write.ts';
import { loadLayersModel, saveLayersModel } from '../train/checkpoint.ts';
import { loadDataset, type Dataset } from '../train/dataset/registry.ts';

/** Bump when the architecture or training recipe changes: it names the cache folder. */
export const CLASSIFIER_VERSION = 'mnist-cnn-v2';
export const FEATURE_LAYER = 'features';

export interface ClassifierOptions {
  /**
   * Folder of the judge. Default: the judge bundled with ganforge (eval/judge/, rebuilt by scripts/train-judge.ts), so
   * every evaluation anywhere uses the same judge and figures are comparable. An empty folder is trained into.
   */
  dir?: string;
  /** Passes over the 60k training images. Default 3. */
  epochs?: number;
  /** Seed of the initial weights and batch order. Default 1. */
  seed?: number;
  /** Train a new judge even if `dir` holds one (replaced atomically at the end). Default false. */
  retrain?: boolean;
  /** Progress lines go here. Default: nothing. */
  log?: (line: string) => void;
}

export interface Judge {
  model: tf.LayersModel;
  /** The same network cut at the feature layer. */
  features: tf.LayersModel;
  /** Accuracy on the 10k MNIST test images, measured when it was trained. */
  testAccuracy: number;
  /** Where it is cached. */
  dir: string;
}

interface JudgeRecord {
  version: string;
  testAccuracy: number;
  epochs: number;
  seed: number;
  backend: string;
  trainedSeconds: number;
}

/** eval/judge/ beside this file in the sources, or two levels up from dist/eval/ in a build. */
export const BUNDLED_JUDGE_DIR = [fileURLToPath(new URL('./judge', import.meta.url)), fileURLToPath(new URL('../../eval/judge', import.meta.url))]
  .find((candidate) => existsSync(join(candidate, 'judge.json'))) ?? fileURLToPath(new URL('./judge', import.meta.url));

/** Loads the cached judge, training it first (≈ a minute on wasm) when the cache is empty or stale. */
export async function loadOrTrainClassifier(options: ClassifierOptions = {}): Promise<Judge> {
  const { dir = BUNDLED_JUDGE_DIR, epochs = 3, seed = 1, retrain = false, log = () => {} } = options;
  const recordPath = join(dir, 'judge.json');
  if (!retrain && (await exists(recordPath))) {
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as JudgeRecord;
    if (record.version !== CLASSIFIER_VERSION) {
      throw new RangeError(`${dir} holds judge ${record.version}, this ganforge wants ${CLASSIFIER_VERSION}; rebuild it with scripts/train-judge.ts`);
    }
    const model = await loadLayersModel(join(dir, 'model'));
    return { model, features: featureModel(model), testAccuracy: record.testAccuracy, dir };
  }
  log(`training the MNIST judge classifier (${epochs} epochs, saved in ${dir})`);
  const started = performance.now();
  const [train, test] = await Promise.all([loadDataset({ dataset: 'mnist', split: 'train' }), loadDataset({ dataset: 'mnist', split: 'test' })]);
  const model = buildClassifier(seed);
  await fitClassifier(model, train, epochs, seed, log);
  const testAccuracy = accuracy(model, test);
  log(`judge test accuracy ${(testAccuracy * 100).toFixed(2)}%`);
  const record: JudgeRecord = { version: CLASSIFIER_VERSION, testAccuracy, epochs, seed, backend: tf.getBackend(), trainedSeconds: (performance.now() - started) / 1000 };
  await replaceDirectoryAtomic(dir, async (temp) => {
    await saveLayersModel(model, join(temp, 'model'));
    await writeFileAtomic(join(temp, 'judge.json'), `${JSON.stringify(record, null, 2)}\n`);
  });
  return { model, features: featureModel(model), testAccuracy, dir };
}

/**
 * [B, 28, 28, 1] → two strided convs (no pooling: MaxPool's gradient is slow on wasm) → 128 features → 10 classes.
 * Small on purpose: it trains in about a minute on single-threaded wasm and still reaches ~99% test accuracy.
 */
export function buildClassifier(seed: number): tf.LayersModel {
  let s = seed;
  const init = () => tf.initializers.heNormal({ seed: s++ });
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let h = tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(input) as tf.SymbolicTensor; // [B, 14, 14, 32]
  h = tf.layers.conv2d({ filters: 64, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor; // [B, 7, 7, 64]
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor; // [B, 3136]
  h = tf.layers.dropout({ rate: 0.3 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(), name: FEATURE_LAYER }).apply(h) as tf.SymbolicTensor; // [B, 128]
  h = tf.layers.dropout({ rate: 0.3 }).apply(h) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor; // [B, 10]
  return tf.model({ inputs: input, outputs: output, name: 'mnist_judge' });
}

function featureModel(model: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(FEATURE_LAYER).output });
}

async function fitClassifier(model: tf.LayersModel, data: Dataset, epochs: number, seed: number, log: (line: string) => void): Promise<void> {
  if (data.labels === null) throw new RangeError('the judge needs a labelled dataset');
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const [count, height, width, channels] = data.shape;
  const batchSize = 128;
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const random = new SeededRandom(seed, 1);
  const pixels = height * width * channels;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (let i = count - 1; i > 0; i--) {
      const j = random.nextUint32() % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let seen = 0;
    let correct = 0;
    for (let start = 0; start + batchSize <= count; start += batchSize) {
      const xs = new Float32Array(batchSize * pixels);
      const ys = new Float32Array(batchSize);
      for (let b = 0; b < batchSize; b++) {
        const index = order[start + b]!;
        xs.set(data.images.subarray(index * pixels, (index + 1) * pixels), b * pixels);
        ys[b] = data.labels[index]!;
      }
      const x = tf.tensor4d(xs, [batchSize, height, width, channels]);
      const y = tf.tensor2d(ys, [batchSize, 1]);
      const [, acc] = (await model.trainOnBatch(x, y)) as number[];
      x.dispose();
      y.dispose();
      seen += batchSize;
      correct += (acc ?? 0) * batchSize;
      if ((start / batchSize) % 100 === 99) log(`judge epoch ${epoch}/${epochs}: ${seen}/${count} images, train accuracy ${((correct / seen) * 100).toFixed(2)}%`);
    }
    log(`judge epoch ${epoch}/${epochs}: train accuracy ${((correct / seen) * 100).toFixed(2)}%`);
  }
}

/** Softmax probabilities [count, 10] and features [count, 128] of NHWC images in [-1, 1], in batches. */
export function judgeImages(judge: Judge, images: Float32Array, count: number): { probabilities: Float32Array; features: Float32Array } {
  const pixels = 28 * 28;
  if (images.length !== count * pixels) throw new RangeError(`judgeImages: ${images.length} values is not ${count} MNIST-shaped images`);
  const probabilities = new Float32Array(count * 10);
  const features = new Float32Array(count * 128);
  const batch = 500;
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * pixels, (start + size) * pixels), [size, 28, 28, 1]);
      probabilities.set((judge.model.predict(x) as tf.Tensor).dataSync(), start * 10);
      features.set((judge.features.predict(x) as tf.Tensor).dataSync(), start * 128);
    });
  }
  return { probabilities, features };
}

function accuracy(model: tf.LayersModel, data: Dataset): number {
  const judge = { model, features: featureModel(model), testAccuracy: 0, dir: '' };
  const { probabilities } = judgeImages(judge, data.images, data.shape[0]);
  let correct = 0;
  for (let i = 0; i < data.shape[0]; i++) if (argmax(probabilities, i * 10, 10) === data.labels![i]) correct++;
  return correct / data.shape[0];
}

export function argmax(values: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let k = 1; k < length; k++) if (values[offset + k]! > values[offset + best]!) best = k;
  return best;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
