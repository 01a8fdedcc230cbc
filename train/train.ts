// The one place that picks a training loop: by the family's objective (train/models/family.ts), the GAN loop
// (train/trainer.ts) or the VAE loop (train/vae-trainer.ts). Both take the same options and write the same run folder.

import { getFamily } from './models/registry.ts';
import { trainGan, type TrainGanOptions, type TrainGanResult } from './trainer.ts';
import { trainVae, type TrainVaeResult } from './vae-trainer.ts';

/** Trains any registered family; see TrainGanOptions (a VAE rejects the adversarial-only ones by name). */
export function train(options: TrainGanOptions): Promise<TrainGanResult | TrainVaeResult> {
  if (typeof options !== 'object' || options === null) throw new TypeError('train: options must be an object');
  return getFamily(options.family).objective === 'variational' ? trainVae(options) : trainGan(options);
}
