// Marks a run folder as live while training runs: <run>/active.json = {"pid", "startedAt"}, removed at the end. The
// dashboard reads it to show a run as live and to send its stop button's SIGINT to the right process (ganforge train
// saves a checkpoint on SIGINT).

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.ts';
import type { TrainingObserver } from './observer.ts';

export const ACTIVE_FILE = 'active.json';

export interface ActiveRunMarker {
  pid: number;
  startedAt: string;
}

export function activeRunObserver(): TrainingObserver {
  return {
    name: 'active-run',
    async onStart(run) {
      const marker: ActiveRunMarker = { pid: process.pid, startedAt: new Date().toISOString() };
      await writeFileAtomic(join(run.runDir, ACTIVE_FILE), `${JSON.stringify(marker)}\n`);
    },
    async onEnd(run) {
      await rm(join(run.runDir, ACTIVE_FILE), { force: true });
    },
  };
}
