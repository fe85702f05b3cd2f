/**
 * Renders chart specs to SVG in Node with vega's headless View (no DOM, no canvas), and SVG to PNG with
 * resvg when that optional package loads. Used by `arcal report --figures`.
 */
import { parse, View } from 'vega';
import { compile } from 'vega-lite';
import type { ChartSpec } from './specs.ts';

/** The SVG document of one Vega-Lite spec. */
export async function chartToSvg(spec: ChartSpec): Promise<string> {
  const vg = compile(spec as never).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

type Resvg = new (svg: string, opts?: unknown) => { render(): { asPng(): Uint8Array } };
let resvg: Promise<Resvg | null> | undefined;

/** PNG bytes of an SVG at `scale`, or null when @resvg/resvg-js is not installed for this platform. */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array | null> {
  resvg ??= import('@resvg/resvg-js').then(
    (m) => (m.Resvg ?? (m as { default?: { Resvg?: Resvg } }).default?.Resvg ?? null) as Resvg | null,
    () => null,
  );
  const R = await resvg;
  if (!R) return null;
  return new R(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
}
