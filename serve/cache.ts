// HTTP caching of generated images. A request with a seed is a pure function of (model version, parameters, format),
// so its response gets a strong ETag derived from exactly those and a matching If-None-Match is answered 304 without
// running the generator. A request without a seed draws a random one and must never be cached.

import * as crypto from 'node:crypto';
import type { GenerateParams, OutputFormat } from '../common/generate-params.ts';
import { PNG_ENCODER_ID } from './generate.ts';

/**
 * Bump when the encoding of an unchanged model's output changes (PNG grid layout, JSON fields), to invalidate caches.
 * The PNG bytes also depend on how they are compressed (zlib version and settings), so that is part of every tag:
 * a fleet running mixed Node versions never serves two different bodies under one strong ETag.
 */
const ETAG_SCHEME = 'g2';

/** SHA-256 in hex: the one-shot crypto.hash (Node ≥ 20.12) where present, a third of createHash's cost per request. */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text) : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** Strong ETag of a seeded /generate response: sha256 of model sha256 + normalized parameters + format. */
export function generateEtag(modelSha256: string, params: GenerateParams, format: OutputFormat): string {
  // Normalized: defaults filled in and class names resolved to per-image labels, so ?class=one and ?class=1 share a tag.
  const normalized = JSON.stringify([ETAG_SCHEME, PNG_ENCODER_ID, modelSha256, params.n, params.seed, params.labels, params.truncation, params.truncationMode, params.mix ?? null, format]);
  return `"${ETAG_SCHEME}-${sha256Hex(normalized).slice(0, 32)}"`;
}

/** RFC 9110 §13.1.2 If-None-Match with weak comparison: '*' or any listed tag equal to `etag` ignoring W/. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return trimmed.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}
