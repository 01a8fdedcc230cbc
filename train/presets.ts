// Named bundles of training options for the recipes the source articles describe, so `--preset wgan-gp` means the
// paper's settings rather than a list of flags to remember. Options the caller gives explicitly always win; a preset's
// family config is applied only to fields the chosen family has.

import { InvalidParameterError } from '../common/errors.ts';
import { getFamily } from './models/registry.ts';

/** The training options a preset may set (TrainGanOptions fields of the same names; kept here so presets.ts does not import the trainer). */
export interface PresetOptions {
  loss?: string;
  optimizer?: string;
  learningRateGenerator?: number;
  learningRateDiscriminator?: number;
  beta1?: number;
  beta2?: number;
  discriminatorSteps?: number;
  gradientPenalty?: number;
  weightClip?: number;
  labelSmoothing?: number;
  generatorEma?: number;
}

export interface Preset {
  name: string;
  summary: string;
  options: PresetOptions;
  /** Family config fields to set when the family has them (e.g. no BatchNorm in a gradient-penalty critic). */
  familyConfig?: Record<string, unknown>;
}

export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  wgan: {
    name: 'wgan',
    summary: 'WGAN (Arjovsky et al. 2017): Wasserstein loss, critic weights clipped to ±0.01, RMSProp lr 5e-5, 5 critic steps',
    options: { loss: 'wasserstein', weightClip: 0.01, optimizer: 'rmsprop', learningRateGenerator: 5e-5, learningRateDiscriminator: 5e-5, discriminatorSteps: 5 },
  },
  'wgan-gp': {
    name: 'wgan-gp',
    summary: 'WGAN-GP (Gulrajani et al. 2017): Wasserstein loss, gradient penalty λ 10, Adam lr 1e-4 β (0, 0.9), 5 critic steps, no BatchNorm in the critic',
    options: { loss: 'wasserstein', gradientPenalty: 10, optimizer: 'adam', learningRateGenerator: 1e-4, learningRateDiscriminator: 1e-4, beta1: 0, beta2: 0.9, discriminatorSteps: 5 },
    familyConfig: { discriminatorNorm: 'layer' },
  },
  sngan: {
    name: 'sngan',
    // Miyato et al. 2018, Table 1 setting C (DCGAN's Adam settings, one D step): the standard-CNN setting closest to
    // these families, and the cheapest; their ResNet runs used lr 2e-4, β (0, 0.9), 5 D steps instead.
    summary: 'SN-GAN (Miyato et al. 2018): spectral normalisation of every D kernel, hinge loss, Adam lr 2e-4 β (0.5, 0.999), 1 D step, no BatchNorm in D',
    options: { loss: 'hinge', optimizer: 'adam', learningRateGenerator: 2e-4, learningRateDiscriminator: 2e-4, beta1: 0.5, beta2: 0.999, discriminatorSteps: 1 },
    familyConfig: { spectralNorm: true, discriminatorNorm: 'none' },
  },
});

export const PRESET_NAMES = Object.freeze(Object.keys(PRESETS));

/** `options` with its preset's settings filled in where the caller gave none; unchanged without a preset. */
export function applyPreset<T extends { preset?: string; family: string; familyConfig?: Record<string, unknown> } & PresetOptions>(options: T): T {
  if (options.preset === undefined || options.preset === '') return options;
  const preset = Object.hasOwn(PRESETS, options.preset) ? PRESETS[options.preset] : undefined;
  if (!preset) throw new InvalidParameterError('preset', `unknown preset '${options.preset}'; allowed: ${PRESET_NAMES.join(', ')}`);
  const defaults = getFamily(options.family).defaults as Record<string, unknown>;
  const familyConfig = Object.fromEntries(Object.entries(preset.familyConfig ?? {}).filter(([key]) => Object.hasOwn(defaults, key)));
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...preset.options, ...given, familyConfig: { ...familyConfig, ...options.familyConfig } } as T;
}
