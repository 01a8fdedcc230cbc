// Diagnoses of a GAN run going wrong, each raised with its evidence and a remedy, from the numbers a run already has:
//  - DISCRIMINATOR_WON: D(x) → 1 and D(G(z)) → 0 held over a window — G's gradients vanish (Goodfellow et al. §3;
//    the source articles' reading of D(x) ≈ D(G(z)) ≈ 0.5 as the healthy state).
//  - MODE_COLLAPSE: the spread of G's samples for fixed latents falls far below its best, or the judge's predicted
//    class histogram collapses (eval records).
//  - DIVERGENCE: losses or gradient norms blow up against their own early level (before they reach NaN).
// A diagnosis is raised once, then re-armed only after its condition has cleared.

import * as tf from '@tensorflow/tfjs';
import { sampleLatents } from '../../common/latents.ts';
import { isAdversarialStep, type StepMetrics } from '../step-metrics.ts';
import type { Diagnosis, RunView, TrainingObserver } from './observer.ts';

export interface DiagnosesOptions {
  /** Steps a condition must hold (and the length of the early baseline). Default min(200, max(20, total/10)). */
  window?: number;
  /** D(x) above this and D(G(z)) below 1 − this, on average over the window, means D has won. Default 0.9. */
  wonThreshold?: number;
  /** Sample spread below this share of its best so far means collapse. Default 0.35. */
  collapseRatio?: number;
  /** Judge class coverage (entropy ÷ ln 10) below this means the class histogram collapsed. Default 0.5. */
  coverageFloor?: number;
  /** A loss or gradient norm this many times its early median means divergence. Default 100. */
  divergenceFactor?: number;
  /** Measure the fixed-latent sample spread every this many steps. Default the window. */
  spreadEvery?: number;
}

/** Latents of the spread measurement: fixed, so the spread is comparable across steps. */
const SPREAD_SEED = 7331;
const SPREAD_SAMPLES = 64;

export function diagnosesObserver(options: DiagnosesOptions = {}): TrainingObserver {
  let window = 0;
  const recent: StepMetrics[] = [];
  const baseline: StepMetrics[] = [];
  let baselineLevels: Record<string, number> | null = null;
  let bestSpread = 0;
  let bestCoverage = 0;
  const raised = new Set<string>();
  let divergentSteps = 0;

  // Keyed by detector (the two collapse detectors share a code but arm and clear apart).
  const raise = (key: string, run: RunView, diagnosis: Diagnosis) => {
    if (raised.has(key)) return;
    raised.add(key);
    run.warn(diagnosis);
  };
  const clear = (key: string) => raised.delete(key);

  return {
    name: 'diagnoses',
    onStart(run) {
      window = options.window ?? Math.min(200, Math.max(20, Math.floor(run.totalSteps / 10)));
    },
    onStep(m, run) {
      if (!isAdversarialStep(m)) return; // these read D and G; a VAE run has its own (vae-diagnoses.ts)
      recent.push(m);
      if (recent.length > window) recent.shift();
      // D has won: only for losses whose D output is a probability (critic scores have no 0/1 scale).
      if (m.wassersteinEstimate === undefined && recent.length === window) {
        const won = options.wonThreshold ?? 0.9;
        const dReal = mean(recent.map((r) => r.dReal));
        const dFake = mean(recent.map((r) => r.dFake));
        if (dReal > won && dFake < 1 - won) {
          raise('won', run, {
            code: 'DISCRIMINATOR_WON', step: m.step,
            message: `the discriminator has won: over the last ${window} steps mean D(x) = ${dReal.toFixed(3)} and D(G(z)) = ${dFake.toFixed(3)}; the generator's gradients vanish (mean |∇G| ${mean(recent.map((r) => r.gradNormG)).toExponential(2)})`,
            evidence: { window, dReal, dFake, gradNormG: mean(recent.map((r) => r.gradNormG)) },
            remedy: 'lower the discriminator learning rate (--lr-d) or its steps (--d-steps 1), smooth the real labels (--label-smoothing 0.1), or switch to a Wasserstein loss (--preset wgan-gp)',
          });
        } else if (dReal < won - 0.1 || dFake > 1.1 - won) {
          clear('won');
        }
      }
      // Divergence against the run's own early level (the first window of steps).
      const levels = magnitudes(m);
      if (baselineLevels === null) {
        baseline.push(m);
        if (baseline.length >= window) baselineLevels = medians(baseline.map(magnitudes));
      } else {
        const factor = options.divergenceFactor ?? 100;
        const blown = Object.entries(levels).filter(([k, v]) => v > factor * Math.max(baselineLevels![k]!, 1e-3));
        divergentSteps = blown.length > 0 ? divergentSteps + 1 : 0;
        if (divergentSteps >= Math.max(3, Math.floor(window / 5))) {
          raise('divergence', run, {
            code: 'DIVERGENCE', step: m.step,
            message: `training is diverging: ${blown.map(([k, v]) => `${k} ${v.toExponential(2)} (early level ${baselineLevels![k]!.toExponential(2)})`).join(', ')} for ${divergentSteps} steps`,
            evidence: Object.fromEntries(blown.flatMap(([k, v]) => [[k, v], [`${k}Early`, baselineLevels![k]!]])),
            remedy: 'lower both learning rates, add a gradient penalty (--gradient-penalty 10) or weight clipping for a Wasserstein loss, or resume from an earlier checkpoint',
          });
        } else if (divergentSteps === 0) {
          clear('divergence');
        }
      }
      const spreadEvery = options.spreadEvery ?? window;
      if (m.step % spreadEvery === 0) checkSpread(run, m.step);
    },
    onEval(record, run) {
      // A collapse is a fall from variety the run had: an untrained G's blobs also look like one class to the judge.
      const floor = options.coverageFloor ?? 0.5;
      bestCoverage = Math.max(bestCoverage, record.classCoverage);
      if (record.classCoverage < floor && bestCoverage >= floor + 0.2) {
        raise('coverage', run, {
          code: 'MODE_COLLAPSE', step: record.step,
          message: `mode collapse: the judge sees few classes in ${record.samples} samples (class coverage ${record.classCoverage.toFixed(3)}, best so far ${bestCoverage.toFixed(3)}; 1 = all ten equally often)`,
          evidence: { classCoverage: record.classCoverage, bestCoverage, samples: record.samples },
          remedy: 'add minibatch discrimination (--set minibatchStddev=true), lower the generator learning rate, or use a Wasserstein loss (--preset wgan-gp)',
        });
      } else if (record.classCoverage >= floor + 0.1) {
        clear('coverage');
      }
    },
  };

  function checkSpread(run: RunView, step: number): void {
    const spread = sampleSpread(run);
    const ratio = options.collapseRatio ?? 0.35;
    if (spread > bestSpread) bestSpread = spread;
    if (bestSpread > 0 && spread < ratio * bestSpread) {
      raise('spread', run, {
        code: 'MODE_COLLAPSE', step,
        message: `mode collapse: ${SPREAD_SAMPLES} samples for fixed latents spread ${spread.toFixed(4)} (pixel std across samples), ${(100 * spread / bestSpread).toFixed(0)}% of the best so far ${bestSpread.toFixed(4)}: G draws nearly the same image whatever z`,
        evidence: { spread, bestSpread },
        remedy: 'add minibatch discrimination (--set minibatchStddev=true), lower the generator learning rate, or use a Wasserstein loss (--preset wgan-gp)',
      });
    } else if (spread > (ratio + 0.15) * bestSpread) {
      clear('spread');
    }
  }
}

/**
 * Mean over pixels of the standard deviation across samples, for fixed latents (and, for conditional models, one class
 * per latent in turn so collapse inside a class counts): 0 when G ignores z.
 */
export function sampleSpread(run: Pick<RunView, 'samplingGenerator' | 'context' | 'numClasses'>): number {
  const { latentDim } = run.context;
  const z = sampleLatents({ latentDim, count: SPREAD_SAMPLES, seed: SPREAD_SEED });
  return tf.tidy(() => {
    const latents = tf.tensor2d(z, [SPREAD_SAMPLES, latentDim]);
    // Conditional: every sample asks for class 0, so the spread measures variety within one class.
    const inputs = run.numClasses === null ? latents : [latents, tf.zeros([SPREAD_SAMPLES, 1], 'int32')];
    const images = run.samplingGenerator().predict(inputs) as tf.Tensor;
    const { variance } = tf.moments(images, 0);
    return tf.sqrt(variance).mean().dataSync()[0]!;
  });
}

/** The magnitudes divergence watches: absolute losses and gradient norms. */
function magnitudes(m: StepMetrics): Record<string, number> {
  return { dLoss: Math.abs(m.dLoss), gLoss: Math.abs(m.gLoss), gradNormD: m.gradNormD, gradNormG: m.gradNormG };
}

function medians(rows: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(rows[0] ?? {})) {
    const sorted = rows.map((r) => r[key]!).sort((a, b) => a - b);
    out[key] = sorted[Math.floor(sorted.length / 2)]!;
  }
  return out;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

