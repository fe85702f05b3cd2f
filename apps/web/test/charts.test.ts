import { describe, expect, it } from 'vitest';
import { chartToSvg, svgToPng } from '../src/charts/render-node.ts';
import { compareCharts, epochPointsFromMetrics, oodBars, reportCharts, softLabelCells } from '../src/charts/specs.ts';
import { FIXTURE, sampleReport } from './report-fixture.ts';

/** Rendered data marks by kind, read off vega's ARIA roles (one element per drawn item). */
const marks = (svg: string) => {
  const out: Record<string, number> = {};
  for (const m of svg.matchAll(/<path[^>]*role="graphics-symbol"[^>]*aria-roledescription="([^"]*)"/g))
    out[m[1]!] = (out[m[1]!] ?? 0) + 1;
  return out;
};
const labels = (svg: string, role: string) =>
  [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="([^"]*)"/g)]
    .filter((m) => m[2] === role)
    .map((m) => m[1]!);

describe('chart specs rendered to SVG in Node', () => {
  const report = sampleReport();
  const charts = Object.fromEntries(reportCharts(report).map((c) => [c.name, c]));
  const { members, epochs, subsets, bins, emptyBins, severities, histBins } = FIXTURE;

  it('offers every figure the report has data for, and none for missing sections', () => {
    expect(Object.keys(charts)).toEqual([
      'epoch-curves',
      'soft-labels',
      'reliability',
      'subset-acc-conf',
      'subset-ece',
      'shift-severity',
      'ood-entropy',
    ]);
    const bare = sampleReport();
    delete bare.shift;
    delete bare.ood;
    bare.bySubset = [];
    expect(reportCharts(bare).map((c) => c.name)).toEqual(['epoch-curves', 'soft-labels', 'reliability']);
  });

  it('draws one mark per datum', async () => {
    const m = async (name: string) => marks(await chartToSvg(charts[name]!.spec));
    // loss, accuracy and ECE: one line per member in each panel, a point per (member, epoch)
    expect(await m('epoch-curves')).toEqual({ 'line mark': 3 * members, point: 3 * members * epochs });
    expect(await m('soft-labels')).toEqual({ 'rect mark': epochs * subsets });
    expect(await m('reliability')).toEqual({ 'rect mark': bins - emptyBins.length, 'line mark': 1 });
    expect(await m('subset-acc-conf')).toEqual({ point: subsets, 'line mark': 1 });
    expect(await m('subset-ece')).toEqual({ bar: subsets });
    expect(await m('shift-severity')).toEqual({ point: severities.length, 'line mark': 1 });
    expect(await m('ood-entropy')).toEqual({ 'rect mark': 2 * histBins });
  });

  it('bars carry the report values', async () => {
    const svg = await chartToSvg(charts['subset-ece']!.spec);
    // ECE_r = 0.5 − 0.1 r by construction
    const got = labels(svg, 'bar').map((l) => Number(/ECE: ([\d.]+)/.exec(l)![1]));
    expect(got).toHaveLength(subsets);
    for (const [r, v] of got.entries()) expect(v).toBeCloseTo(0.5 - 0.1 * r, 6);
  });

  it('soft-label cells follow the first member that recorded them; OOD bars are fractions of each set', () => {
    const cells = softLabelCells(report.epochs);
    expect(cells).toHaveLength(epochs * subsets);
    // p̃_r at epoch e (1-based) = 1 − 0.1 (subsets − r) e / epochs
    for (const c of cells) expect(c.pTrue).toBeCloseTo(1 - (0.1 * (subsets - c.subset) * c.epoch) / epochs, 12);
    const bars = oodBars(report.ood!);
    const sum = (set: string) => bars.filter((b) => b.set === set).reduce((a, b) => a + b.fraction, 0);
    expect(sum('in-distribution')).toBeCloseTo(1, 12);
    expect(sum('out-of-distribution')).toBeCloseTo(1, 12);
    expect(epochPointsFromMetrics([{ member: -1, epoch: 0, trainLoss: 1, trainAccuracy: 0.5, valEce: null }])).toEqual(
      [],
    );
  });

  it('compare figures: a bar per (experiment, metric), a line per experiment', async () => {
    const cs = compareCharts([
      { name: 'a', report },
      { name: 'b', report: sampleReport() },
      { name: 'c', report: sampleReport() },
    ]);
    expect(marks(await chartToSvg(cs[0]!.spec))).toEqual({ bar: 3 * 4 });
    expect(marks(await chartToSvg(cs[1]!.spec))).toEqual({ 'line mark': 3, point: 3 * subsets });
  });

  it('renders PNG through resvg (a PNG signature and size scaled from the SVG)', async () => {
    const svg = await chartToSvg(charts['subset-ece']!.spec);
    const png = await svgToPng(svg, 2);
    expect(png, '@resvg/resvg-js should load on linux-x64').not.toBeNull();
    expect([...png!.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    const view = new DataView(png!.buffer, png!.byteOffset);
    expect(view.getUint32(16)).toBe(2 * width); // IHDR width
  });
});
