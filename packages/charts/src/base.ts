/** What every arcal figure shares: the Vega-Lite schema, size, white background and axis fonts. */

/** Vega-Lite top-level spec (kept loose here: vega-lite's own types are checked when compiling). */
export type ChartSpec = Record<string, unknown>;

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const W = 320;
const H = 200;

/** A single-view spec with the shared frame; `extra` adds the data, marks and encodings (and may resize). */
export const base = (title: string, extra: ChartSpec = {}): ChartSpec => ({
  $schema: SCHEMA,
  title,
  width: W,
  height: H,
  background: 'white',
  config: { view: { stroke: '#ddd' }, axis: { labelFontSize: 11, titleFontSize: 12 } },
  ...extra,
});
