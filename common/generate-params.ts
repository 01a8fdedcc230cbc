// Parsing of a generation request (/generate's query, the browser client's options) into typed parameters. One parser
// for both sides, so a request that the server accepts the page accepts too, with the same error text.

import { InvalidParameterError, describeValue } from './errors.ts';
import { truncationKindOf, type ModelManifest } from './manifest.ts';
import { MAX_SEED } from './random.ts';
import { defaultMixFrom, type MixRequest } from './style-mixing.ts';
import { lowestTruncation, parseTruncation, parseTruncationMode, type TruncationMode } from './truncation.ts';

export const OUTPUT_FORMATS = ['png', 'json', 'npy'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface GenerateParams {
  /** Number of images. */
  n: number;
  /** Seed of image 0; image k uses stream k of this seed. */
  seed: number;
  /** One label per image for a conditional model, else null. */
  labels: number[] | null;
  truncation: number;
  truncationMode: TruncationMode;
  /** A style-mixing model's mix (common/style-mixing.ts): its layers from `from` on take the style of seed `seed`'s latents; absent or null = none. */
  mix?: MixRequest | null;
}

export interface GenerateLimits {
  /** Largest n accepted. */
  maxImages: number;
}

/** The raw parameters: strings from a query string, or typed values from the browser API. */
export interface RawGenerateParams {
  n?: unknown;
  seed?: unknown;
  class?: unknown;
  truncation?: unknown;
  truncationMode?: unknown;
  mixSeed?: unknown;
  mixFrom?: unknown;
}

/**
 * Validates raw parameters against a model's manifest. `seed` must be resolved by the caller when absent (the server
 * draws one and reports it). With no `class`, a conditional model cycles through its classes: image k gets k mod C.
 */
export function parseGenerateParams(raw: RawGenerateParams, manifest: ModelManifest, limits: GenerateLimits, defaultSeed: () => number): GenerateParams {
  const n = raw.n === undefined ? 1 : parseInteger(raw.n, 'n', 1, limits.maxImages);
  const seed = raw.seed === undefined ? defaultSeed() : parseInteger(raw.seed, 'seed', 0, MAX_SEED);
  // For a VAE's decoder (kind 'temperature') the number is T and may be 0.
  const truncation = raw.truncation === undefined ? 1 : parseTruncation(single(raw.truncation, 'truncation'), 'truncation', lowestTruncation(truncationKindOf(manifest)));
  const truncationMode = raw.truncationMode === undefined ? 'psi' : parseTruncationMode(single(raw.truncationMode, 'truncationMode'));
  if (!manifest.truncationModes.includes(truncationMode)) {
    throw new InvalidParameterError('truncationMode', `this model supports truncationMode ${manifest.truncationModes.join(', ')}, got ${truncationMode}`);
  }
  let labels: number[] | null = null;
  if (manifest.classes === null) {
    if (raw.class !== undefined) {
      throw new InvalidParameterError('class', `model family '${manifest.family}' is unconditional and takes no 'class'; remove the parameter`);
    }
  } else {
    const classes = manifest.classes;
    const fixed = raw.class === undefined ? null : parseClass(raw.class, classes);
    labels = Array.from({ length: n }, (_, k) => fixed ?? k % classes.length);
  }
  return { n, seed, labels, truncation, truncationMode, mix: parseMixRequest(raw, manifest) };
}

/**
 * `mixSeed` and `mixFrom` for `manifest`: null when neither is given. A model without mixing inputs refuses both;
 * `mixFrom` is an integer in [0, L] (0: every layer takes mixSeed's style, L: none) and needs `mixSeed`.
 */
export function parseMixRequest(raw: Pick<RawGenerateParams, 'mixSeed' | 'mixFrom'>, manifest: Pick<ModelManifest, 'family' | 'styleMixing'>): MixRequest | null {
  if (raw.mixSeed === undefined && raw.mixFrom === undefined) return null;
  const mixing = manifest.styleMixing;
  const given = raw.mixSeed !== undefined ? 'mixSeed' : 'mixFrom';
  if (mixing === undefined) {
    throw new InvalidParameterError(given, `model family '${manifest.family}' has no style-mixing inputs, so it takes no '${given}' (stylegan-lite and cstylegan-lite exports do); remove the parameter`);
  }
  if (raw.mixSeed === undefined) throw new InvalidParameterError('mixFrom', `'mixFrom' picks the layers that take the style of 'mixSeed'; give 'mixSeed' too`);
  const seed = parseInteger(raw.mixSeed, 'mixSeed', 0, MAX_SEED);
  const from = raw.mixFrom === undefined ? defaultMixFrom(mixing.layers) : parseInteger(raw.mixFrom, 'mixFrom', 0, mixing.layers);
  return { seed, from };
}

/** A class given as an index ("7") or a name ("seven", "T-shirt"); names match case-insensitively. */
export function parseClass(value: unknown, classes: readonly string[]): number {
  const v = single(value, 'class');
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v))) {
    const index = Number(v);
    if (Number.isInteger(index) && index >= 0 && index < classes.length) return index;
  }
  if (typeof v === 'string') {
    const wanted = v.trim().toLowerCase();
    const byName = classes.findIndex((c) => c.toLowerCase() === wanted);
    if (byName >= 0) return byName;
  }
  const names = classes.length <= 12 ? ` or a name (${classes.join(', ')})` : ' or a class name';
  throw new InvalidParameterError('class', `'class' must be an integer in [0, ${classes.length - 1}]${names}, got ${describeValue(v)}`);
}

export function parseOutputFormat(value: unknown): OutputFormat {
  const v = single(value, 'format');
  if (typeof v === 'string' && (OUTPUT_FORMATS as readonly string[]).includes(v)) return v as OutputFormat;
  throw new InvalidParameterError('format', `'format' must be one of ${OUTPUT_FORMATS.join(', ')}, got ${describeValue(v)}`);
}

/** An integer in [min, max], from a number or a plain decimal string (no "1e3", "0x10", "", or "4.0"). */
export function parseInteger(value: unknown, name: string, min: number, max: number): number {
  const v = single(value, name);
  const parsed = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d{1,16}\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new InvalidParameterError(name, `'${name}' must be an integer in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return parsed;
}

/** Query strings can repeat a key (?n=1&n=2); a parameter must be given once. */
function single(value: unknown, name: string): unknown {
  if (Array.isArray(value)) {
    throw new InvalidParameterError(name, `'${name}' was given ${value.length} times; give it once`);
  }
  return value;
}
