// Shared setup for the training tests: the backend the trainer would pick here, and small real MNIST subsets.

import type * as tf from '@tensorflow/tfjs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend, type SelectedBackend } from '../../train/backend.ts';
import { loadDataset, type Dataset } from '../../train/dataset/registry.ts';

let selected: Promise<SelectedBackend> | null = null;

/** Selects the best backend once per test file (wasm here; tensorflow where tfjs-node is installed). */
export function useBestBackend(): Promise<SelectedBackend> {
  selected ??= selectBackend();
  return selected;
}

/** The first `count` MNIST training images with labels. */
export function mnistSubset(count: number): Promise<Dataset> {
  return loadDataset({ dataset: 'mnist', limit: count });
}

/** Copies of every weight of a model (trainable and BN moving statistics), for bit-exact comparisons. */
export function snapshotWeights(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

export function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => {
    const y = b[i]!;
    if (x.length !== y.length) return false;
    const xa = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const ya = new Uint32Array(y.buffer, y.byteOffset, y.length);
    return xa.every((v, j) => v === ya[j]);
  });
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `ganforge-${prefix}-`));
}
