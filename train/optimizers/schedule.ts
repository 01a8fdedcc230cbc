// Learning-rate schedules: the factor applied to each side's base learning rate at a generator step. Written as text
// ('constant', 'linear', 'cosine', 'step:EVERY:GAMMA', optionally 'warmup:N,' before any of them) so a schedule travels
// in the command line and the run sidecar as one string.

import { InvalidParameterError } from '../../common/errors.ts';

export type LearningRateSchedule =
  | { kind: 'constant'; warmupSteps: number }
  /** Linear decay from 1 to 0 over the run (Radford et al.'s and BigGAN's linear decay). */
  | { kind: 'linear'; warmupSteps: number }
  /** Half a cosine from 1 to 0 over the run. */
  | { kind: 'cosine'; warmupSteps: number }
  /** × gamma every `every` steps. */
  | { kind: 'step'; warmupSteps: number; every: number; gamma: number };

export const SCHEDULE_FORMS = "constant | linear | cosine | step:EVERY:GAMMA, optionally prefixed by 'warmup:N,'";

export function parseSchedule(text: string): LearningRateSchedule {
  const bad = (why: string) => new InvalidParameterError('lrSchedule', `learning-rate schedule '${text}' ${why}; allowed: ${SCHEDULE_FORMS}`);
  let rest = text.trim();
  let warmupSteps = 0;
  const warmup = /^warmup:(\d+),(.*)$/.exec(rest);
  if (warmup) {
    warmupSteps = Number(warmup[1]);
    rest = warmup[2]!.trim();
    if (!Number.isSafeInteger(warmupSteps) || warmupSteps < 1) throw bad('has a warm-up that is not a positive integer');
  }
  if (rest === 'constant' || rest === 'linear' || rest === 'cosine') return { kind: rest, warmupSteps };
  const step = /^step:(\d+):([0-9.eE+-]+)$/.exec(rest);
  if (step) {
    const every = Number(step[1]);
    const gamma = Number(step[2]);
    if (!Number.isSafeInteger(every) || every < 1) throw bad('has an EVERY that is not a positive integer');
    if (!(gamma > 0 && gamma <= 1)) throw bad('has a GAMMA outside (0, 1]');
    return { kind: 'step', warmupSteps, every, gamma };
  }
  throw bad('is not one of the forms');
}

export function formatSchedule(schedule: LearningRateSchedule): string {
  const body = schedule.kind === 'step' ? `step:${schedule.every}:${schedule.gamma}` : schedule.kind;
  return schedule.warmupSteps > 0 ? `warmup:${schedule.warmupSteps},${body}` : body;
}

/** The learning-rate factor for the update after `step` completed generator steps of a `totalSteps` run. */
export function scheduleFactor(schedule: LearningRateSchedule, step: number, totalSteps: number): number {
  const warm = schedule.warmupSteps > 0 && step < schedule.warmupSteps ? (step + 1) / schedule.warmupSteps : 1;
  const span = Math.max(1, totalSteps - schedule.warmupSteps);
  const progress = Math.min(1, Math.max(0, step - schedule.warmupSteps) / span);
  switch (schedule.kind) {
    case 'constant': return warm;
    case 'linear': return warm * (1 - progress);
    case 'cosine': return warm * 0.5 * (1 + Math.cos(Math.PI * progress));
    case 'step': return warm * schedule.gamma ** Math.floor(Math.max(0, step - schedule.warmupSteps) / schedule.every);
  }
}
