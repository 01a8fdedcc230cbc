// Every optimizer by name: `--optimizer` and TrainGanOptions.optimizer choose from these.

import { InvalidParameterError } from '../../common/errors.ts';
import { adamOptimizer } from './adam.ts';
import type { OptimizerKind } from './optimizer.ts';
import { rmspropOptimizer } from './rmsprop.ts';
import { sgdOptimizer } from './sgd.ts';

export const OPTIMIZERS: Readonly<Record<string, OptimizerKind>> = Object.freeze({
  [adamOptimizer.name]: adamOptimizer,
  [rmspropOptimizer.name]: rmspropOptimizer,
  [sgdOptimizer.name]: sgdOptimizer,
});

export const OPTIMIZER_NAMES = Object.freeze(Object.keys(OPTIMIZERS));

export function getOptimizer(name: string): OptimizerKind {
  const kind = Object.hasOwn(OPTIMIZERS, name) ? OPTIMIZERS[name] : undefined;
  if (!kind) throw new InvalidParameterError('optimizer', `unknown optimizer '${name}'; allowed: ${OPTIMIZER_NAMES.join(', ')}`);
  return kind;
}
