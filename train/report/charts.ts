// Which curves a run has and how each is drawn, as Vega-Lite specs: one definition used by the plot files, `ganforge
// compare` and the dashboard page (which renders the same compiled specs in the browser), so the three never disagree.
// Only the series a run actually logged get a chart: an MLP run has no Wasserstein estimate, an AC-GAN has class losses.

import type { TopLevelSpec } from 'vega-lite';
import { downsampleMinMax, MAX_POINTS_PER_SERIES, type CurvePoint } from './downsample.ts';
import type { MetricRow, MetricsLog } from './metrics-log.ts';

export interface SeriesDefinition {
  /** Field in a metrics line. */
  key: string;
  /** Legend label. */
  label: string;
}

export interface ChartDefinition {
  /** Stable id: file name of the plot, key of the chart in the page. */
  id: string;
  title: string;
  yTitle: string;
  /** Which lines feed it. */
  source: 'steps' | 'evals';
  series: SeriesDefinition[];
  /** Fixed y range (probabilities); default: the data's. */
  yDomain?: [number, number];
  /** A dashed reference line, e.g. D(x) = D(G(z)) = 0.5 at equilibrium. */
  reference?: { y: number; label: string };
}

/** The known step-line charts, in display order (fields the trainer logs today and those its techniques add). */
export const STEP_CHARTS: readonly ChartDefinition[] = Object.freeze([
  { id: 'losses', title: 'Losses', yTitle: 'loss', source: 'steps', series: [{ key: 'dLoss', label: 'D loss' }, { key: 'gLoss', label: 'G loss' }], reference: { y: Math.LN2, label: 'ln 2' } },
  { id: 'discriminator-outputs', title: 'D(x) and D(G(z))', yTitle: 'mean D output', source: 'steps', series: [{ key: 'dReal', label: 'D(x)' }, { key: 'dFake', label: 'D(G(z))' }], yDomain: [0, 1], reference: { y: 0.5, label: 'equilibrium' } },
  { id: 'wasserstein', title: 'Wasserstein estimate', yTitle: 'E[D(x)] − E[D(G(z))]', source: 'steps', series: [{ key: 'wassersteinEstimate', label: 'Wasserstein estimate' }] },
  { id: 'gradient-penalty', title: 'Gradient penalty', yTitle: 'penalty', source: 'steps', series: [{ key: 'gradientPenalty', label: 'gradient penalty' }] },
  { id: 'gradient-norms', title: 'Gradient norms', yTitle: 'global L2 norm', source: 'steps', series: [{ key: 'gradNormD', label: '‖∇D‖' }, { key: 'gradNormG', label: '‖∇G‖' }] },
  { id: 'class-losses', title: 'Class losses', yTitle: 'cross-entropy', source: 'steps', series: [{ key: 'dClassLoss', label: 'D class loss' }, { key: 'gClassLoss', label: 'G class loss' }] },
  { id: 'class-accuracy', title: 'D class accuracy (real batch)', yTitle: 'accuracy', source: 'steps', series: [{ key: 'dClassAccuracy', label: 'D class accuracy' }], yDomain: [0, 1] },
  { id: 'vae-terms', title: 'VAE: reconstruction and KL', yTitle: 'nats per image', source: 'steps', series: [{ key: 'reconstructionLoss', label: 'reconstruction' }, { key: 'klDivergence', label: 'KL(q(z|x) ‖ p(z))' }] },
  { id: 'speed', title: 'Training speed', yTitle: 'steps/s', source: 'steps', series: [{ key: 'stepsPerSecond', label: 'steps/s' }] },
] as ChartDefinition[]);

const KNOWN_STEP_FIELDS = new Set(STEP_CHARTS.flatMap((c) => c.series.map((s) => s.key)));

/** Chart id for a field no definition knows: its own chart, so a new metric shows up without a code change. */
function fieldChartId(source: 'steps' | 'evals', key: string): string {
  return `${source === 'evals' ? 'eval' : 'field'}-${key.replace(/[^A-Za-z0-9_-]+/g, '_')}`;
}

/** The charts a log can fill: known ones with at least one present series (only those series), then one per other field. */
export function chartsFor(log: Pick<MetricsLog, 'steps' | 'evals'>): ChartDefinition[] {
  const stepFields = fieldsOf(log.steps);
  const charts: ChartDefinition[] = [];
  for (const chart of STEP_CHARTS) {
    const series = chart.series.filter((s) => stepFields.has(s.key));
    if (series.length > 0) charts.push({ ...chart, series });
  }
  for (const key of stepFields) {
    if (!KNOWN_STEP_FIELDS.has(key)) charts.push({ id: fieldChartId('steps', key), title: key, yTitle: key, source: 'steps', series: [{ key, label: key }] });
  }
  for (const key of fieldsOf(log.evals)) {
    const label = key.replace(/^eval\./, '');
    charts.push({ id: fieldChartId('evals', key), title: `Eval: ${label}`, yTitle: label, source: 'evals', series: [{ key, label }] });
  }
  return charts;
}

function fieldsOf(rows: readonly MetricRow[]): Set<string> {
  const fields = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row.values)) fields.add(key);
  return fields;
}

/** One plotted point in long form (Vega-Lite colours by `series`, and by `run` when runs are compared). */
export interface ChartPoint {
  step: number;
  series: string;
  value: number;
  run?: string;
}

/** The chart's points from `log`, each series thinned to `maxPoints` (Infinity = every point, for live appends). */
export function chartPoints(chart: ChartDefinition, log: Pick<MetricsLog, 'steps' | 'evals'>, maxPoints = MAX_POINTS_PER_SERIES): ChartPoint[] {
  const rows = chart.source === 'steps' ? log.steps : log.evals;
  const points: ChartPoint[] = [];
  for (const series of chart.series) {
    const curve: CurvePoint[] = [];
    for (const row of rows) {
      const value = row.values[series.key];
      if (value !== undefined) curve.push({ step: row.step, value });
    }
    const thinned = Number.isFinite(maxPoints) ? downsampleMinMax(curve, maxPoints) : curve;
    for (const p of thinned) points.push({ step: p.step, series: series.label, value: p.value });
  }
  return points;
}

/** Name of the data set holding a chart's points in every spec (the page inserts live points into it). */
export const POINTS_DATA = 'points';

export interface ChartSpecOptions {
  /** Plot area width in pixels. Default 520. */
  width?: number;
  /** Plot area height in pixels. Default 180. */
  height?: number;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The Vega-Lite spec of one run's chart. */
export function runChartSpec(chart: ChartDefinition, points: ChartPoint[], options: ChartSpecOptions = {}): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: chart.title,
    width: options.width ?? 520,
    height: options.height ?? 180,
    background: 'white',
    data: { name: POINTS_DATA, values: points },
    layer: [lineLayer(chart, { field: 'series', domain: chart.series.map((s) => s.label), title: null }), ...referenceLayer(chart)],
  } as unknown as TopLevelSpec; // the layers are built as plain objects; vega-lite's compile checks them
}

export interface ComparedRun {
  /** Legend label: run folder name and what sets it apart. */
  label: string;
  log: Pick<MetricsLog, 'steps' | 'evals'>;
}

/**
 * Several runs on shared axes: one panel per chart any run has, colour = run, dash = series. Every run keeps its
 * colour in every panel (one colour scale over the run labels).
 */
export function compareChartsSpec(runs: readonly ComparedRun[], options: ChartSpecOptions = {}): TopLevelSpec {
  const byId = new Map<string, ChartDefinition>();
  for (const run of runs) {
    for (const chart of chartsFor(run.log)) {
      const known = byId.get(chart.id);
      if (known === undefined) byId.set(chart.id, chart);
      else for (const s of chart.series) if (!known.series.some((k) => k.key === s.key)) known.series.push(s);
    }
  }
  const order = [...STEP_CHARTS.map((c) => c.id)];
  const charts = [...byId.values()].sort((a, b) => rank(order, a.id) - rank(order, b.id));
  const labels = runs.map((r) => r.label);
  const panels = charts.map((chart) => {
    const points = runs.flatMap((run) => chartPoints(chart, run.log).map((p) => ({ ...p, run: run.label })));
    return {
      title: chart.title,
      width: options.width ?? 520,
      height: options.height ?? 160,
      data: { values: points },
      layer: [compareLineLayer(chart, labels), ...referenceLayer(chart)],
    };
  });
  return {
    $schema: SCHEMA,
    background: 'white',
    vconcat: panels,
    resolve: { scale: { color: 'shared', strokeDash: 'independent' }, legend: { strokeDash: 'independent' } },
    config: { legend: { labelLimit: 420 } },
  } as unknown as TopLevelSpec;
}

function rank(order: string[], id: string): number {
  const i = order.indexOf(id);
  return i < 0 ? order.length : i;
}

function yEncoding(chart: ChartDefinition): Record<string, unknown> {
  return {
    field: 'value', type: 'quantitative', title: chart.yTitle,
    scale: chart.yDomain === undefined ? { zero: false } : { domain: chart.yDomain },
  };
}

function lineLayer(chart: ChartDefinition, color: { field: string; domain: string[]; title: string | null }): Record<string, unknown> {
  return {
    mark: { type: 'line', strokeWidth: 1.5, clip: true, point: chart.source === 'evals' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: yEncoding(chart),
      color: { field: color.field, type: 'nominal', title: color.title, scale: { domain: color.domain }, legend: { orient: 'top' } },
    },
  };
}

function compareLineLayer(chart: ChartDefinition, runLabels: string[]): Record<string, unknown> {
  const layer = lineLayer(chart, { field: 'run', domain: runLabels, title: 'run' });
  const encoding = layer.encoding as Record<string, unknown>;
  // The run is the colour; the series (D loss vs G loss) the dash, and both together make one line.
  encoding.color = { ...(encoding.color as object), legend: { orient: 'bottom', direction: 'vertical' } };
  if (chart.series.length > 1) {
    encoding.strokeDash = { field: 'series', type: 'nominal', title: null, scale: { domain: chart.series.map((s) => s.label) }, legend: { orient: 'top' } };
  }
  encoding.detail = { field: 'series' };
  return layer;
}

function referenceLayer(chart: ChartDefinition): Record<string, unknown>[] {
  if (chart.reference === undefined) return [];
  return [{
    data: { values: [{ y: chart.reference.y, label: chart.reference.label }] },
    mark: { type: 'rule', strokeDash: [4, 4], color: '#999' },
    encoding: { y: { field: 'y', type: 'quantitative' }, tooltip: { field: 'label' } },
  }];
}
