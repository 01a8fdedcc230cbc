// How much faster is serving the exported generator with onnxruntime-node than calling tfjs `predict`? Measures
// images/s for the mlp family's generator (z 100 → 256 → 512 → 1024 → 784, BatchNorm + LeakyReLU, tanh) at batch
// 1, 64 and 256, in onnxruntime-node (CPU provider) and in tfjs on each backend that loads here (wasm, cpu).
// Each figure is the median of several timed calls after warm-up; a call includes building the input and reading the
// output back, as a server would. Run: npx tsx bench/inference-throughput.ts

import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { sampleLatents } from '../common/latents.ts';
import { MANIFEST_FORMAT, type ModelManifest } from '../common/manifest.ts';
import { createNodeSession, onnxruntimeVersion, ort } from '../runtime/ort-node.ts';
import { selectBackend, type BackendName } from '../train/backend.ts';
import { buildMlpGenerator, mlpDefaults } from '../train/models/mlp.ts';
import { exportGenerator } from '../export/export-generator.ts';
import { medianSeconds } from './timing.ts';

export interface InferenceBenchOptions {
  /** Batch sizes measured. Default [1, 64, 256]. */
  batchSizes?: number[];
  /** tfjs backends compared with onnxruntime-node (those that fail to start are reported and skipped). Default ['wasm', 'cpu']. */
  backends?: BackendName[];
  /** Untimed calls before measuring. Default 3. */
  warmup?: number;
  /** Timed calls per figure at batch 1 (larger batches get fewer, at least 5). Default 41. */
  runsAtBatch1?: number;
}

export interface InferenceBenchRow {
  batch: number;
  /** Images per second by runtime ('onnxruntime-node', 'tfjs-wasm', 'tfjs-cpu'). */
  imagesPerSecond: Record<string, number>;
}

export interface InferenceBenchResult {
  rows: InferenceBenchRow[];
  runtimes: string[];
  skipped: { backend: string; reason: string }[];
  environment: string;
}

const LATENT_DIM = 100;
const IMAGE_SHAPE: [number, number, number] = [28, 28, 1];

export async function benchInferenceThroughput(options: InferenceBenchOptions = {}): Promise<InferenceBenchResult> {
  const { batchSizes = [1, 64, 256], backends = ['wasm', 'cpu'], warmup = 3, runsAtBatch1 = 41 } = options;
  const skipped: InferenceBenchResult['skipped'] = [];
  const runsFor = (batch: number) => Math.max(5, Math.round(runsAtBatch1 / Math.sqrt(batch)));

  await tf.setBackend('cpu');
  const generator = buildMlpGenerator({ ...mlpDefaults }, { imageShape: IMAGE_SHAPE, numClasses: null, latentDim: LATENT_DIM, seed: 1 });
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT, family: 'mlp', latentDim: LATENT_DIM, classes: null, imageShape: IMAGE_SHAPE, valueRange: [-1, 1],
    inputs: { latent: 'z', label: null }, output: 'image', truncationModes: ['psi'],
    training: { dataset: 'none', steps: 0, epochs: 0, batchSize: 0, seed: 1, backend: 'cpu', loss: 'non-saturating' }, ganforgeVersion: '0.0.0',
  };
  const bytes = exportGenerator(generator, manifest);
  const latents = new Map(batchSizes.map((b) => [b, sampleLatents({ latentDim: LATENT_DIM, count: b, seed: 7 })]));

  const rows: InferenceBenchRow[] = batchSizes.map((batch) => ({ batch, imagesPerSecond: {} }));
  const runtimes: string[] = ['onnxruntime-node'];
  const { session } = await createNodeSession(bytes, { device: 'cpu' });
  try {
    for (const row of rows) {
      const z = latents.get(row.batch)!;
      const call = async () => {
        const out = await session.run({ z: new ort.Tensor('float32', z, [row.batch, LATENT_DIM]) });
        return (out.image!.data as Float32Array).length;
      };
      row.imagesPerSecond['onnxruntime-node'] = row.batch / (await medianSeconds(call, warmup, runsFor(row.batch)));
    }
  } finally {
    await session.release();
  }

  for (const backend of backends) {
    const selected = await selectBackend({ prefer: backend });
    if (selected.name !== backend) {
      skipped.push({ backend, reason: selected.skipped.find((s) => s.backend === backend)?.reason ?? `fell back to ${selected.name}` });
      continue;
    }
    const name = `tfjs-${backend}`;
    runtimes.push(name);
    for (const row of rows) {
      const z = latents.get(row.batch)!;
      const call = () => {
        const out = tf.tidy(() => generator.predict(tf.tensor2d(z, [row.batch, LATENT_DIM])) as tf.Tensor);
        const n = out.dataSync().length;
        out.dispose();
        return Promise.resolve(n);
      };
      row.imagesPerSecond[name] = row.batch / (await medianSeconds(call, warmup, runsFor(row.batch)));
    }
  }
  generator.dispose();
  const environment = `Node ${process.version}, ${availableParallelism()} cores, onnxruntime-node ${onnxruntimeVersion} (CPU EP, default threads), @tensorflow/tfjs ${tf.version.tfjs}`;
  return { rows, runtimes, skipped, environment };
}

/** A Markdown table: images/s per runtime and the ORT/tfjs speed-up per tfjs backend. */
export function formatInferenceBench(result: InferenceBenchResult): string {
  const tfjs = result.runtimes.filter((r) => r !== 'onnxruntime-node');
  const header = ['batch', ...result.runtimes.map((r) => `${r} img/s`), ...tfjs.map((r) => `ORT / ${r}`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---:').join('|')}|`];
  for (const row of result.rows) {
    const ort = row.imagesPerSecond['onnxruntime-node']!;
    const cells = [
      String(row.batch),
      ...result.runtimes.map((r) => Math.round(row.imagesPerSecond[r]!).toLocaleString('en-US')),
      ...tfjs.map((r) => `${(ort / row.imagesPerSecond[r]!).toFixed(1)}×`),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const notes = [`mlp generator (z 100 → 256 → 512 → 1024 → 784), ${result.environment}; median of timed calls after warm-up.`];
  for (const s of result.skipped) notes.push(`skipped tfjs-${s.backend}: ${s.reason}`);
  return `${lines.join('\n')}\n\n${notes.join('\n')}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatInferenceBench(await benchInferenceThroughput()));
}
