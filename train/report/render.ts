// Renders Vega-Lite specs to SVG in Node (vega's headless view: no canvas, no browser) and SVG to PNG with sharp
// (librsvg), so plots need nothing installed beyond the npm dependencies.

import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Compiles a Vega-Lite spec to the Vega spec that both Node and the page render. */
export function compileChart(spec: TopLevelSpec): vega.Spec {
  return compile(spec).spec;
}

/** The chart as a standalone SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileChart(spec)), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Width and height an SVG document declares (vega writes both on its root element). */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  const width = Number(/\bwidth="([\d.]+)"/.exec(root)?.[1]);
  const height = Number(/\bheight="([\d.]+)"/.exec(root)?.[1]);
  if (!(width > 0 && height > 0)) throw new RangeError(`the SVG root declares no positive width and height: ${root.slice(0, 120)}`);
  return { width, height };
}

/** PNG of an SVG document at `scale` × its declared size (2 = sharp on high-density screens and in a README). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  if (!(scale > 0 && scale <= 8)) throw new RangeError(`'scale' must be in (0, 8], got ${scale}`);
  return sharp(Buffer.from(svg), { density: 72 * scale }).flatten({ background: '#ffffff' }).png().toBuffer();
}
