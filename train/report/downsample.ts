// Thins a long curve for plotting: a 100k-step run has 100k points per series, far more than a 600-pixel-wide chart
// can show, and an SVG with that many vertices is slow to render and to ship to a page. Min/max per bucket keeps every
// spike (a divergence must stay visible), which averaging would smooth away.

export interface CurvePoint {
  step: number;
  value: number;
}

/** Default point budget per series. */
export const MAX_POINTS_PER_SERIES = 2000;

/**
 * At most `maxPoints` points of `points` (sorted by step): the series is cut into maxPoints/2 equal-count buckets and
 * each keeps its lowest and highest value, in step order. Series within the budget are returned unchanged; the first
 * and last points are always kept.
 */
export function downsampleMinMax(points: readonly CurvePoint[], maxPoints = MAX_POINTS_PER_SERIES): CurvePoint[] {
  if (!Number.isInteger(maxPoints) || maxPoints < 4) throw new RangeError(`'maxPoints' must be an integer ≥ 4, got ${maxPoints}`);
  if (points.length <= maxPoints) return points.slice();
  // Two slots go to the end points, two per bucket to its extremes.
  const buckets = Math.floor((maxPoints - 2) / 2);
  const inner = points.length - 2;
  const out: CurvePoint[] = [points[0]!];
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * inner) / buckets);
    const end = 1 + Math.floor(((b + 1) * inner) / buckets);
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (points[i]!.value < points[lo]!.value) lo = i;
      if (points[i]!.value > points[hi]!.value) hi = i;
    }
    if (lo === hi) out.push(points[lo]!);
    else out.push(points[Math.min(lo, hi)]!, points[Math.max(lo, hi)]!);
  }
  out.push(points[points.length - 1]!);
  return out;
}
