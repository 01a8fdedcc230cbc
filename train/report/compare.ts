// `ganforge compare`'s picture: several runs' curves on shared axes (colour = run, labelled by the run folder and the
// settings that set it apart, e.g. loss or learning rate) above their last sample grids side by side, as one SVG and
// one PNG. The source articles' SGD vs RMSProp vs Adam figure becomes one command.

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../atomic-write.ts';
import { compareChartsSpec, type ComparedRun } from './charts.ts';
import { readMetricsLog } from './metrics-log.ts';
import { renderSvg, svgSize, svgToPng } from './render.ts';
import { assertRunFolder, distinguishingSettings, listSampleGrids, readRunSidecar, runName, runSettings } from './run-folder.ts';

export interface CompareRunsOptions {
  /** Run folders, in legend order (at least one). */
  runDirs: string[];
  /** Output PNG path; the SVG is written beside it with the same stem. Default 'compare.png'. */
  out?: string;
  /** Largest width of one sample grid in the picture, pixels. Default 260. */
  gridWidth?: number;
}

export interface CompareRunsResult {
  png: string;
  svg: string;
  /** Size of the SVG in CSS pixels (the PNG is twice as large). */
  width: number;
  height: number;
  /** Legend label per run, in order. */
  labels: string[];
  /** Where each run's grid sits in the picture (SVG pixels; zero height when the run has no grid yet). */
  grids: { x: number; y: number; width: number; height: number }[];
}

const MARGIN = 16;
const LABEL_HEIGHT = 36;
const FONT = 'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif"';

/** Draws the comparison and writes it as PNG and SVG; throws INVALID_PARAMETER for a folder that is not a run. */
export async function compareRuns(options: CompareRunsOptions): Promise<CompareRunsResult> {
  if (!Array.isArray(options.runDirs) || options.runDirs.length === 0) throw new RangeError(`'runDirs' must list at least one run folder, got ${options.runDirs?.length ?? 'none'}`);
  const gridWidth = options.gridWidth ?? 260;
  const dirs = await Promise.all(options.runDirs.map((dir) => assertRunFolder(dir)));
  const runs = await Promise.all(dirs.map(async (dir) => ({
    dir, name: runName(dir), log: await readMetricsLog(dir), settings: runSettings(await readRunSidecar(dir)), grids: await listSampleGrids(dir),
  })));
  const labels = compareLabels(runs);
  const compared: ComparedRun[] = runs.map((r, i) => ({ label: labels[i]!, log: r.log }));
  const chartsSvg = runs.some((r) => r.log.steps.length + r.log.evals.length > 0) ? await renderSvg(compareChartsSpec(compared)) : null;
  const chartSize = chartsSvg === null ? { width: 0, height: 0 } : svgSize(chartsSvg);

  // The grids row: each run's newest grid, scaled to at most gridWidth wide (nearest-neighbour, so digits stay crisp).
  const cells = await Promise.all(runs.map(async (r, i) => {
    const last = r.grids[r.grids.length - 1];
    if (last === undefined) return { label: labels[i]!, caption: 'no sample grid yet', image: null, width: gridWidth, height: 0 };
    const png = await readFile(last.path);
    const meta = await sharp(png).metadata();
    const scale = Math.max(1, Math.floor(gridWidth / (meta.width ?? gridWidth)));
    const width = (meta.width ?? gridWidth) * scale;
    const height = (meta.height ?? gridWidth) * scale;
    const scaled = scale === 1 ? png : await sharp(png).resize(width, height, { kernel: 'nearest' }).png().toBuffer();
    return { label: labels[i]!, caption: last.name, image: scaled.toString('base64'), width, height };
  }));
  const rowHeight = Math.max(...cells.map((c) => c.height)) + LABEL_HEIGHT;
  const rowWidth = cells.reduce((sum, c) => sum + c.width, 0) + MARGIN * (cells.length - 1);
  const width = Math.ceil(Math.max(chartSize.width, rowWidth + 2 * MARGIN));
  const height = Math.ceil(chartSize.height + MARGIN + rowHeight + MARGIN);

  let x = MARGIN;
  const top = chartSize.height + MARGIN;
  const grids: CompareRunsResult['grids'] = [];
  const cellParts = cells.map((cell) => {
    grids.push({ x, y: top + LABEL_HEIGHT, width: cell.width, height: cell.height });
    const parts = [
      `<text x="${x}" y="${top + 14}" font-size="12" font-weight="bold" ${FONT}>${escapeXml(truncate(cell.label, Math.floor(cell.width / 7)))}</text>`,
      `<text x="${x}" y="${top + 29}" font-size="11" fill="#555" ${FONT}>last grid: ${escapeXml(cell.caption)}</text>`,
    ];
    if (cell.image !== null) {
      parts.push(`<image x="${x}" y="${top + LABEL_HEIGHT}" width="${cell.width}" height="${cell.height}" style="image-rendering:pixelated" href="data:image/png;base64,${cell.image}"/>`);
    }
    x += cell.width + MARGIN;
    return parts.join('');
  });
  // vega's SVG is nested as is: an <svg> inside an <svg> is a positioned viewport, so no coordinates need rewriting.
  const nested = chartsSvg === null ? '' : chartsSvg.replace(/^<svg\b/, '<svg x="0" y="0"');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="${width}" height="${height}" fill="white"/>${nested}${cellParts.join('')}</svg>\n`;

  const out = options.out ?? 'compare.png';
  const stem = extname(out).toLowerCase() === '.png' || extname(out).toLowerCase() === '.svg' ? out.slice(0, -4) : out;
  const pngPath = `${stem}.png`;
  const svgPath = `${stem}.svg`;
  await writeFileAtomic(svgPath, svg);
  await writeFileAtomic(pngPath, await svgToPng(svg));
  return { png: pngPath, svg: svgPath, width, height, labels, grids };
}

/** Legend labels: each run's name and the settings that differ between the runs ("sgd (optimizer sgd, lr D 1e-3)"). */
export function compareLabels(runs: readonly { name: string; settings: Record<string, string | number | boolean> }[]): string[] {
  const distinguishing = distinguishingSettings(runs.map((r) => r.settings));
  return uniqueLabels(runs.map((r) => {
    // "training.optimizer sgd" reads as "optimizer sgd": the sidecar's grouping is not news to the reader.
    const parts = distinguishing.filter((k) => k in r.settings).map((k) => `${k.replace(/^training\./, '')} ${formatSetting(r.settings[k]!)}`);
    return parts.length === 0 ? r.name : `${r.name} (${parts.join(', ')})`;
  }));
}

function formatSetting(value: string | number | boolean): string {
  return typeof value === 'number' && value !== 0 && Math.abs(value) < 0.01 ? value.toExponential().replace(/\.?0+e/, 'e') : String(value);
}

/** Labels made unique (two runs/x folders from different parents) by numbering repeats. */
function uniqueLabels(labels: string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label} #${n}`;
  });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
