// Every adversarial loss by name: `--loss` and TrainGanOptions.loss choose from these.

import { InvalidParameterError } from '../../common/errors.ts';
import { hingeLoss } from './hinge.ts';
import type { AdversarialLoss } from './loss.ts';
import { minimaxLoss } from './minimax.ts';
import { nonSaturatingLoss } from './non-saturating.ts';
import { wassersteinLoss } from './wasserstein.ts';

export const LOSSES: Readonly<Record<string, AdversarialLoss>> = Object.freeze({
  [nonSaturatingLoss.name]: nonSaturatingLoss,
  [minimaxLoss.name]: minimaxLoss,
  [wassersteinLoss.name]: wassersteinLoss,
  [hingeLoss.name]: hingeLoss,
});

export const LOSS_NAMES = Object.freeze(Object.keys(LOSSES));

export function getLoss(name: string): AdversarialLoss {
  const loss = Object.hasOwn(LOSSES, name) ? LOSSES[name] : undefined;
  if (!loss) throw new InvalidParameterError('loss', `unknown loss '${name}'; allowed: ${LOSS_NAMES.join(', ')}`);
  return loss;
}
