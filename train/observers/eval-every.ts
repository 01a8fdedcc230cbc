// `--eval-every N`: the eval protocol of `ganforge eval` (eval/evaluate.ts: the MNIST judge's Fréchet distance,
// conditional accuracy, class coverage, diversity), run on a subsample every N steps on the generator as it is, so the
// best checkpoint can be chosen by quality. It samples the tfjs generator in inference mode — what the export computes —
// rather than an exported .onnx, and asks for a checkpoint at the same step so `export --best` has it.

import * as tf from '@tensorflow/tfjs';
import { InvalidParameterError } from '../../common/errors.ts';
import { sampleLatents } from '../../common/latents.ts';
import { loadOrTrainClassifier, type Judge } from '../../eval/classifier.ts';
import { measureSamples } from '../../eval/evaluate.ts';
import { loadDataset } from '../dataset/registry.ts';
import type { EvalRecord, RunView, TrainingObserver } from './observer.ts';

export interface EvalEveryOptions {
  every: number;
  /** Samples per class (conditional) or per tenth (unconditional). Default 100 → 1,000 samples. */
  samplesPerClass?: number;
  /** Seed of the eval latents (fixed, so successive evals judge the same z). Default 1000, as `ganforge eval`. */
  seed?: number;
}

type ReferenceFit = NonNullable<Parameters<typeof measureSamples>[4]>;
let judged: Promise<{ judge: Judge; reference: ReferenceFit }> | null = null;

/** The judge and its features of the MNIST test set: loaded once per process, shared by every run. */
function judgeAndReference(): Promise<{ judge: Judge; reference: ReferenceFit }> {
  judged ??= (async () => {
    const judge = await loadOrTrainClassifier();
    const test = await loadDataset({ dataset: 'mnist', split: 'test' });
    return { judge, reference: measureSamples(judge, test.images, Array.from(test.labels!), 1, null).frechetFit };
  })();
  return judged;
}

export function evalEveryObserver(options: EvalEveryOptions): TrainingObserver {
  const { every, samplesPerClass = 100, seed = 1000 } = options;
  if (!Number.isSafeInteger(every) || every < 1) throw new InvalidParameterError('evalEvery', `'evalEvery' must be an integer ≥ 1, got ${every}`);
  return {
    name: 'eval-every',
    onStart(run) {
      const [h, w, c] = run.context.imageShape;
      if (h !== 28 || w !== 28 || c !== 1 || (run.numClasses !== null && run.numClasses !== 10)) {
        throw new InvalidParameterError('evalEvery', `--eval-every uses the MNIST judge, which needs 28×28×1 images and 10 classes (or none); this run makes ${h}×${w}×${c}${run.numClasses === null ? '' : ` with ${run.numClasses} classes`}`);
      }
    },
    async onStep(m, run) {
      if (m.step % every !== 0 && m.step !== run.totalSteps) return;
      run.recordEval(await evaluateNow(run, samplesPerClass, seed));
      run.requestCheckpoint();
    },
  };
}

/** Samples `samplesPerClass × 10` images from the run's sampling generator and judges them. */
export async function evaluateNow(run: RunView, samplesPerClass: number, seed: number): Promise<EvalRecord> {
  const { judge, reference } = await judgeAndReference();
  const total = samplesPerClass * 10;
  const { latentDim } = run.context;
  const labels = run.numClasses === null ? null : Array.from({ length: total }, (_, k) => Math.floor(k / samplesPerClass));
  const images = new Float32Array(total * 28 * 28);
  const generator = run.samplingGenerator();
  for (let start = 0; start < total; start += 250) {
    const n = Math.min(250, total - start);
    const z = sampleLatents({ latentDim, count: n, seed, firstIndex: start });
    const batch = tf.tidy(() => {
      const latents = tf.tensor2d(z, [n, latentDim]);
      const input = labels === null ? latents : [latents, tf.tensor2d(Int32Array.from(labels.slice(start, start + n)), [n, 1], 'int32')];
      return generator.predict(input) as tf.Tensor;
    });
    images.set(await batch.data(), start * 28 * 28);
    batch.dispose();
  }
  const metrics = measureSamples(judge, images, labels, 1, reference);
  return {
    step: run.step, samples: total, frechetDistance: metrics.frechetDistance, conditionalAccuracy: metrics.conditionalAccuracy,
    classCoverage: metrics.classCoverage, diversity: metrics.diversity,
    protocol: `${total} samples (${samplesPerClass} per class), latents seed ${seed}, truncation 1, tfjs inference mode; judge test accuracy ${(judge.testAccuracy * 100).toFixed(2)}%; Fréchet reference: the 10,000 MNIST test images (ganforge eval uses 10,000 samples: its figures are lower)`,
  };
}
