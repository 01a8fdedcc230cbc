// Latent interpolation for the page's seed-to-seed animation. Spherical interpolation keeps every frame at the norm a
// Gaussian latent typically has; a straight line would pass through low-norm latents that the generator rarely saw.

export type InterpolationMode = 'slerp' | 'lerp';

/** `frames` latents from `from` to `to` inclusive, row-major (frames × from.length). */
export function interpolateLatents(from: Float32Array, to: Float32Array, frames: number, mode: InterpolationMode = 'slerp'): Float32Array {
  if (from.length !== to.length || from.length === 0) throw new RangeError(`interpolateLatents: latents must have the same non-zero length, got ${from.length} and ${to.length}`);
  if (!Number.isInteger(frames) || frames < 2) throw new RangeError(`'frames' must be an integer ≥ 2, got ${frames}`);
  if (mode !== 'slerp' && mode !== 'lerp') throw new RangeError(`'mode' must be 'slerp' or 'lerp', got ${String(mode)}`);
  const d = from.length;
  const out = new Float32Array(frames * d);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < d; i++) {
    dot += from[i]! * to[i]!;
    na += from[i]! * from[i]!;
    nb += to[i]! * to[i]!;
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  // Nearly parallel latents: slerp's sin(omega) denominator vanishes and the straight line is the same path.
  const spherical = mode === 'slerp' && Math.sin(omega) > 1e-6;
  for (let f = 0; f < frames; f++) {
    const t = f / (frames - 1);
    const [wa, wb] = spherical ? [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)] : [1 - t, t];
    for (let i = 0; i < d; i++) out[f * d + i] = wa * from[i]! + wb * to[i]!;
  }
  // The end frames are the two seeds' own latents exactly, so they match generate() with those seeds.
  out.set(from, 0);
  out.set(to, (frames - 1) * d);
  return out;
}
