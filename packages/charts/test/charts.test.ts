import { describe, expect, it } from 'vitest';
import { chartToSvg, svgToPng } from '../src/render-node.ts';
import {
  compareCharts,
  eceVsRPoints,
  epochPointsFromMetrics,
  oodBars,
  reportCharts,
  softLabelCells,
  studyCharts,
} from '../src/specs.ts';
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

describe('study figures: ECE vs R (paper Fig. 5)', () => {
  /** A configuration of a study report: R, then test ECE per seed and shift ECE per seed (chosen by hand). */
  const config = (R: number, test: number[], shift?: number[], extra: Record<string, unknown> = {}) => {
    const stat = (xs: number[]) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : null;
      return { mean, std, n: xs.length };
    };
    return {
      configKey: JSON.stringify([['method.subsets', R], ...Object.entries(extra)]),
      config: { 'method.subsets': R, ...extra },
      seeds: test.map((_, i) => i + 1),
      experiments: [],
      metrics: { 'test.ece': stat(test), ...(shift ? { 'shift.ece': stat(shift) } : {}) },
    };
  };

  it('a point per (R, ECE set) with its mean, an error bar per point, a line per set', async () => {
    const configurations = [
      config(2, [0.1, 0.14], [0.2, 0.3]),
      config(4, [0.05, 0.07], [0.1, 0.1]),
      config(8, [0.04], [0.12]),
    ];
    const charts = studyCharts({ configurations: configurations as never });
    expect(charts.map((c) => c.name)).toEqual(['ece-vs-r']);
    const svg = await chartToSvg(charts[0]!.spec);
    expect(marks(svg)).toEqual({ point: 6, 'line mark': 2 });
    // error bars are rules (SVG lines) from mean − std to mean + std
    const bars = [
      ...svg.matchAll(/<line aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="rule mark"/g),
    ].map((m) => m[1]!);
    expect(bars).toHaveLength(6);
    const r2 = /ECE: ([\d.]+); hi: ([\d.]+); ECE on: clean test/.exec(bars[0]!)!;
    expect(Number(r2[1])).toBeCloseTo(0.12 - 0.02 * Math.SQRT2, 6);
    expect(Number(r2[2])).toBeCloseTo(0.12 + 0.02 * Math.SQRT2, 6);
    const shown = labels(svg, 'point').map((l) => ({
      R: Number(/robustness subsets R: (\d+)/.exec(l)![1]),
      set: /ECE on: ([a-z ]+)/.exec(l)![1],
      ece: Number(/ECE: ([\d.]+)/.exec(l)![1]),
    }));
    // means by hand: R=2 → 0.12 / 0.25, R=4 → 0.06 / 0.1, R=8 → 0.04 / 0.12
    expect(shown).toEqual([
      { R: 2, set: 'clean test', ece: expect.closeTo(0.12, 6) },
      { R: 4, set: 'clean test', ece: expect.closeTo(0.06, 6) },
      { R: 8, set: 'clean test', ece: expect.closeTo(0.04, 6) },
      { R: 2, set: 'shift', ece: expect.closeTo(0.25, 6) },
      { R: 4, set: 'shift', ece: expect.closeTo(0.1, 6) },
      { R: 8, set: 'shift', ece: expect.closeTo(0.12, 6) },
    ]);
    const pts = eceVsRPoints(configurations as never);
    // error bars: ± the sample std, √(2·0.02²) = 0.02√2 for R = 2; none for a single seed
    expect(pts[0]).toMatchObject({
      lo: expect.closeTo(0.12 - 0.02 * Math.SQRT2, 12),
      hi: expect.closeTo(0.12 + 0.02 * Math.SQRT2, 12),
    });
    expect(pts[2]).toMatchObject({ std: 0, lo: 0.04, hi: 0.04 });
  });

  it('other varied values become separate lines; no figure without method.subsets; shift only when present', async () => {
    const configurations = [
      config(2, [0.1], undefined, { 'method.alpha': 1 }),
      config(4, [0.2], undefined, { 'method.alpha': 1 }),
      config(2, [0.3], undefined, { 'method.alpha': 2 }),
      config(4, [0.4], undefined, { 'method.alpha': 2 }),
    ];
    const [chart] = studyCharts({ configurations: configurations as never });
    expect(marks(await chartToSvg(chart!.spec))).toEqual({ point: 4, 'line mark': 2 });
    expect(eceVsRPoints(configurations as never).map((p) => [p.series, p.R])).toEqual([
      ['method.alpha=1', 2],
      ['method.alpha=1', 4],
      ['method.alpha=2', 2],
      ['method.alpha=2', 4],
    ]);
    const noR = [{ ...config(2, [0.1]), config: { 'method.epsilon': 0.1 } }];
    expect(studyCharts({ configurations: noR as never })).toEqual([]);
  });
});
