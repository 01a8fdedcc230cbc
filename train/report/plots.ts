// Writes a run's curves into <run>/plots/ as SVG and PNG: one file pair per chart the run has (losses, D(x) and
// D(G(z)), gradient norms, Wasserstein estimate, eval metrics, …) and curves.{svg,png} with all of them stacked. Each
// file is written atomically, so a reader (the dashboard, a README build) never sees half a plot.

import { basename, join, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../atomic-write.ts';
import { chartPoints, chartsFor, runChartSpec, type ChartSpecOptions } from './charts.ts';
import { readMetricsLog, type MetricsLog } from './metrics-log.ts';
import { renderSvg, svgToPng } from './render.ts';

/** The plots' folder inside a run folder. */
export const PLOTS_DIR = 'plots';

export interface RunPlotsOptions extends ChartSpecOptions {
  /** The log to plot; default: read <runDir>/metrics.jsonl. */
  log?: MetricsLog;
  /** Also write PNGs (scale 2). Default true. */
  png?: boolean;
}

/** Plots every chart the run's metrics fill; resolves to the files written (none when nothing was logged yet). */
export async function writeRunPlots(runDir: string, options: RunPlotsOptions = {}): Promise<string[]> {
  const log = options.log ?? await readMetricsLog(runDir);
  const charts = chartsFor(log);
  if (charts.length === 0) return [];
  const dir = join(runDir, PLOTS_DIR);
  const written: string[] = [];
  const write = async (name: string, spec: TopLevelSpec) => {
    const svg = await renderSvg(spec);
    await writeFileAtomic(join(dir, `${name}.svg`), svg);
    written.push(join(dir, `${name}.svg`));
    if (options.png !== false) {
      await writeFileAtomic(join(dir, `${name}.png`), await svgToPng(svg));
      written.push(join(dir, `${name}.png`));
    }
  };
  const specs = charts.map((chart) => ({ chart, spec: runChartSpec(chart, chartPoints(chart, log), options) }));
  for (const { chart, spec } of specs) await write(chart.id, spec);
  await write('curves', {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: basename(resolve(runDir)), subtitle: `${log.steps.length} steps logged` },
    background: 'white',
    vconcat: specs.map(({ spec }) => withoutTopLevel(spec)),
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  } as unknown as TopLevelSpec);
  return written;
}

/** A chart spec as a vconcat panel: no $schema or background, and its data unnamed (names must be unique in a view). */
function withoutTopLevel(spec: TopLevelSpec): Record<string, unknown> {
  const { $schema: _schema, background: _background, data, ...panel } = spec as unknown as Record<string, unknown> & { data: { values: unknown[] } };
  return { ...panel, data: { values: data.values } };
}
