// Diagnoses of a VAE run, raised like the GAN ones (observers/diagnoses.ts) with evidence and a remedy:
//  - POSTERIOR_COLLAPSE: KL(q(z|x) ‖ p(z)) near zero over a window — the encoder passes (almost) no information
//    about x, the decoder ignores z, and every sample is close to the same average image (Bowman et al. 2016's
//    "posterior collapse"). Healthy MNIST VAEs hold tens of nats; the floor is half a nat per image.
// Raised once, then re-armed after the KL has recovered.

import { isAdversarialStep, type VaeStepRecord } from '../step-metrics.ts';
import type { TrainingObserver } from './observer.ts';

export interface VaeDiagnosesOptions {
  /** Steps the condition must hold. Default min(200, max(20, total/10)), as the GAN diagnoses. */
  window?: number;
  /** Mean KL per image (nats) below this over the window means collapse. Default 0.5. */
  klFloor?: number;
}

export function vaeDiagnosesObserver(options: VaeDiagnosesOptions = {}): TrainingObserver {
  let window = 0;
  const recent: VaeStepRecord[] = [];
  let raised = false;
  return {
    name: 'vae-diagnoses',
    onStart(run) {
      window = options.window ?? Math.min(200, Math.max(20, Math.floor(run.totalSteps / 10)));
    },
    onStep(m, run) {
      if (isAdversarialStep(m)) return;
      recent.push(m);
      if (recent.length > window) recent.shift();
      if (recent.length < window) return;
      const floor = options.klFloor ?? 0.5;
      const kl = recent.reduce((sum, r) => sum + r.klDivergence, 0) / recent.length;
      if (kl < floor && !raised) {
        raised = true;
        run.warn({
          code: 'POSTERIOR_COLLAPSE', step: m.step,
          message: `posterior collapse: over the last ${window} steps the mean KL(q(z|x) ‖ N(0, I)) is ${kl.toFixed(4)} nats per image (below ${floor}); the encoder passes almost nothing about x and the decoder draws nearly the same image whatever z`,
          evidence: { window, klDivergence: kl, reconstructionLoss: recent.reduce((sum, r) => sum + r.reconstructionLoss, 0) / recent.length },
          remedy: "lower the KL weight (--set beta=0.5, or 1 if it was raised), lower the learning rate, or narrow the decoder so it needs z (--set hiddenUnits=[256])",
        });
      } else if (kl > 2 * floor) {
        raised = false;
      }
    },
  };
}
