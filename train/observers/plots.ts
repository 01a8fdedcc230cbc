// Writes the run's curves (train/report/plots.ts: losses, D(x) and D(G(z)), gradient norms, the Wasserstein estimate,
// eval metrics) into <run>/plots/ at every checkpoint and at the end, so a run folder always holds a picture of its
// training up to its last checkpoint, with nothing else installed.

import { writeRunPlots } from '../report/plots.ts';
import type { TrainingObserver } from './observer.ts';

export function plotsObserver(options: { flush: () => Promise<void> }): TrainingObserver {
  return {
    name: 'plots',
    async onCheckpoint(_dir, run) {
      await options.flush(); // metrics.jsonl is written through a stream: the plot must see every step so far
      await writeRunPlots(run.runDir);
    },
  };
}
