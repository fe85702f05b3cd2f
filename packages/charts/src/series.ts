/**
 * Charts of plain named series, for figures whose numbers are aggregated before they are drawn (the
 * reproduction's, over seeds): lines with ± error bars, step histograms over shared bin edges, and box plots
 * per category. Vega-Lite specs like the report's charts, rendered the same way (`@arcal/charts/render`).
 */
import { base, type ChartSpec } from './base.ts';

const WIDE = { width: 420, height: 260 };

export interface SeriesPoint {
  x: number;
  y: number;
  /** Half-length of the error bar (e.g. one standard deviation). */
  err?: number;
}

interface Axes {
  title: string;
  xLabel: string;
  yLabel: string;
}

const seriesColour = (names: string[]) => ({
  field: 'series',
  type: 'nominal',
  title: null,
  sort: names,
  scale: { domain: names },
});

/** One line with points per series, and an error bar where `err` is given; non-finite points are left out. */
export function lineSeriesSpec(o: Axes & { series: Array<{ name: string; points: SeriesPoint[] }> }): ChartSpec {
  const names = o.series.map((s) => s.name);
  const values = o.series.flatMap((s) =>
    s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p) => ({
        series: s.name,
        x: p.x,
        y: p.y,
        ...(p.err !== undefined && Number.isFinite(p.err) && p.err > 0 ? { lo: p.y - p.err, hi: p.y + p.err } : {}),
      })),
  );
  const x = { field: 'x', type: 'quantitative', title: o.xLabel, axis: { tickMinStep: 1 } };
  const color = seriesColour(names);
  return base(o.title, {
    ...WIDE,
    data: { values },
    layer: [
      {
        mark: { type: 'line', point: true, tooltip: true },
        encoding: { x, y: { field: 'y', type: 'quantitative', title: o.yLabel, scale: { zero: true } }, color },
      },
      {
        transform: [{ filter: 'isValid(datum.lo)' }],
        mark: { type: 'rule' },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
      },
    ],
  });
}

/** Step histograms over shared bin `edges` (K + 1 of them), one outline per series of K values. */
export function stepHistogramSpec(
  o: Axes & { edges: number[]; series: Array<{ name: string; values: number[] }> },
): ChartSpec {
  const names = o.series.map((s) => s.name);
  const values = o.series.flatMap((s) =>
    s.values.map((v, b) => ({ series: s.name, lo: o.edges[b]!, hi: o.edges[b + 1]!, value: v })),
  );
  return base(o.title, {
    ...WIDE,
    data: { values: values.filter((r) => Number.isFinite(r.value) && Number.isFinite(r.hi)) },
    mark: { type: 'rect', fillOpacity: 0.12, strokeWidth: 1.6, tooltip: true },
    encoding: {
      x: { field: 'lo', type: 'quantitative', title: o.xLabel, scale: { domain: [o.edges[0], o.edges.at(-1)] } },
      x2: { field: 'hi' },
      y: { field: 'value', type: 'quantitative', title: o.yLabel, stack: null },
      color: seriesColour(names),
      stroke: seriesColour(names),
    },
  });
}

/**
 * Box plots per category and series (`values[k]`: the series' values in category k): a box from the first
 * to the third quartile (type-7 quantiles, as NumPy's default) with the median, whiskers at the minimum and
 * maximum (as in the paper's Fig. 3). Every category keeps its place on the axis, with or without values.
 */
export function boxPlotSpec(
  o: Axes & { categories: string[]; series: Array<{ name: string; values: number[][] }> },
): ChartSpec {
  const names = o.series.map((s) => s.name);
  const values = o.series.flatMap((s) =>
    s.values.flatMap((vs, k) =>
      vs.filter(Number.isFinite).map((v) => ({ series: s.name, category: o.categories[k]!, value: v })),
    ),
  );
  return base(o.title, {
    ...WIDE,
    data: { values },
    mark: { type: 'boxplot', extent: 'min-max' },
    encoding: {
      x: {
        field: 'category',
        type: 'nominal',
        title: o.xLabel,
        sort: o.categories,
        scale: { domain: o.categories },
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'series', type: 'nominal', sort: names, scale: { domain: names } },
      y: { field: 'value', type: 'quantitative', title: o.yLabel, scale: { zero: true } },
      color: seriesColour(names),
    },
  });
}
