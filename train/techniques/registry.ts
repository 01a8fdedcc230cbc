// Every training technique the trainer can attach, keyed by the TrainGanOptions field that turns it on. Each takes one
// number (its strength); 0 or absent leaves it off. The order here is the order the hooks run in.

import { generatorEmaTechnique } from './generator-ema.ts';
import { gradientPenaltyTechnique } from './gradient-penalty.ts';
import type { TechniqueContext, TechniqueKind, TrainingTechnique } from './technique.ts';
import { weightClippingTechnique } from './weight-clipping.ts';

/** TrainGanOptions fields that switch techniques on; each is a number, 0 = off. */
export interface TechniqueOptions {
  /** WGAN-GP: weight λ of the gradient penalty on random real/fake interpolates (10 in Gulrajani et al.). */
  gradientPenalty: number;
  /** WGAN: clip every critic weight into [−c, c] after each critic update (0.01 in Arjovsky et al.). */
  weightClip: number;
  /** Exponential moving average of G's weights with this decay (e.g. 0.999); the average is sampled and exported. */
  generatorEma: number;
}

export const TECHNIQUE_OPTIONS: readonly (keyof TechniqueOptions)[] = ['gradientPenalty', 'weightClip', 'generatorEma'];

export interface RegisteredTechnique {
  option: keyof TechniqueOptions;
  kind: TechniqueKind<number>;
}

export const TECHNIQUES: RegisteredTechnique[] = [
  { option: 'gradientPenalty', kind: gradientPenaltyTechnique },
  { option: 'weightClip', kind: weightClippingTechnique },
  { option: 'generatorEma', kind: generatorEmaTechnique },
];

/** The techniques `options` switches on, attached to the GAN in `context`. */
export function createTechniques(options: Partial<TechniqueOptions>, context: TechniqueContext): TrainingTechnique[] {
  const created: TrainingTechnique[] = [];
  for (const option of TECHNIQUE_OPTIONS) {
    const value = options[option] ?? 0;
    if (value === 0) continue;
    const entry = TECHNIQUES.find((t) => t.option === option);
    if (!entry) throw new RangeError(`technique option '${option}' has no implementation registered in train/techniques/registry.ts`);
    created.push(entry.kind.create(value, context));
  }
  return created;
}
