// The frozen list of GAN families. Adding a family = one file in train/models/ plus one line here.

import { GanforgeError } from '../../common/errors.ts';
import { acganFamily } from './acgan.ts';
import { cdcganFamily } from './cdcgan.ts';
import { cganFamily } from './cgan.ts';
import { dcganFamily } from './dcgan.ts';
import type { GanFamily } from './family.ts';
import { mlpFamily } from './mlp.ts';
import { cvaeFamily, vaeFamily } from './vae.ts';
import { cstyleganLiteFamily, styleganLiteFamily } from './stylegan-lite.ts';

export const FAMILIES: Readonly<Record<string, GanFamily<object>>> = Object.freeze({
  mlp: mlpFamily,
  cgan: cganFamily,
  acgan: acganFamily,
  dcgan: dcganFamily,
  cdcgan: cdcganFamily,
  vae: vaeFamily,
  cvae: cvaeFamily,
  'stylegan-lite': styleganLiteFamily,
  'cstylegan-lite': cstyleganLiteFamily,
});

/** The family called `name`; unknown names → GanforgeError('UNKNOWN_FAMILY') listing the valid ones. */
export function getFamily(name: string): GanFamily<object> {
  const family = Object.hasOwn(FAMILIES, name) ? FAMILIES[name] : undefined;
  if (family === undefined) {
    throw new GanforgeError('UNKNOWN_FAMILY', `unknown GAN family '${name}'; valid families: ${Object.keys(FAMILIES).join(', ')}`, { parameter: 'family' });
  }
  return family;
}

/**
 * The family's defaults with `overrides` applied; an unknown key or a value of another type than the default's is a
 * RangeError/TypeError naming the field, so a typo never trains silently with the default.
 */
export function resolveFamilyConfig(family: GanFamily<object>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = family.defaults as Record<string, unknown>;
  const config: Record<string, unknown> = structuredClone(defaults);
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(defaults, key)) {
      throw new RangeError(`family '${family.name}' has no config field '${key}'; fields: ${Object.keys(defaults).join(', ')}`);
    }
    const expected = defaults[key];
    const sameKind = Array.isArray(expected) ? Array.isArray(value) : typeof value === typeof expected;
    if (!sameKind) throw new TypeError(`family '${family.name}' config '${key}' must be ${Array.isArray(expected) ? 'an array' : typeof expected}, got ${JSON.stringify(value)}`);
    config[key] = value;
  }
  return config;
}
