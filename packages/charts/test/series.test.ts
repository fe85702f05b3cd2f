import { describe, expect, it } from 'vitest';
import { chartToSvg } from '../src/render-node.ts';
import { boxPlotSpec, lineSeriesSpec, stepHistogramSpec } from '../src/specs.ts';

/** The ARIA label of every drawn item of one kind (vega writes `field: value; …` per datum). */
const items = (svg: string, role: string) =>
  [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="([^"]*)"/g)]
    .filter((m) => m[2] === role)
    .map((m) => Object.fromEntries(m[1]!.split('; ').map((kv) => kv.split(': ') as [string, string])));
const rules = (svg: string) => (svg.match(/aria-roledescription="rule mark"/g) ?? []).length;

describe('charts of plain series', () => {
  it('lines: a point per finite value, a line per series, an error bar per positive err', async () => {
    const svg = await chartToSvg(
      lineSeriesSpec({
        title: 'ECE vs R',
        xLabel: 'R',
        yLabel: 'ECE',
        series: [
          {
            name: 'clean',
            points: [
              { x: 1, y: 0.06, err: 0.01 },
              { x: 2, y: 0.045 },
              { x: 10, y: 0.03, err: 0.005 },
            ],
          },
          {
            name: 'shifted',
            points: [
              { x: 1, y: 0.09, err: 0 },
              { x: 2, y: Number.NaN },
              { x: 10, y: 0.06 },
            ],
          },
        ],
      }),
    );
    expect(items(svg, 'point').map((p) => [p.series, p.R, p.ECE])).toEqual([
      ['clean', '1', '0.06'],
      ['clean', '2', '0.045'],
      ['clean', '10', '0.03'],
      ['shifted', '1', '0.09'],
      ['shifted', '10', '0.06'],
    ]);
    expect(items(svg, 'line mark').map((l) => l.series)).toEqual(['clean', 'shifted']);
    expect(rules(svg)).toBe(2);
    expect(svg).not.toMatch(/NaN/);
  });

  it('step histograms: one outlined bin per value over the shared edges', async () => {
    const svg = await chartToSvg(
      stepHistogramSpec({
        title: 'entropy',
        xLabel: 'entropy (nats)',
        yLabel: 'density',
        edges: [0, 0.5, 1, 1.5],
        series: [
          { name: 'a', values: [1, 2, 0.5] },
          { name: 'b', values: [0.2, 0.3, 2] },
        ],
      }),
    );
    const bins = items(svg, 'rect mark');
    expect(bins.map((b) => [b.series, b['entropy (nats)'], b.hi, b.density])).toEqual([
      ['a', '0', '0.5', '1'],
      ['a', '0.5', '1', '2'],
      ['a', '1', '1.5', '0.5'],
      ['b', '0', '0.5', '0.2'],
      ['b', '0.5', '1', '0.3'],
      ['b', '1', '1.5', '2'],
    ]);
  });

  it('box plots: type-7 quartiles and min-max whiskers per category and series, empty cells left out', async () => {
    const svg = await chartToSvg(
      boxPlotSpec({
        title: 'variance',
        xLabel: 'severity',
        yLabel: 'σ²',
        categories: ['clean', '1', '2'],
        series: [
          { name: 'A', values: [[1], [4, 1, 3, 2], []] },
          { name: 'B', values: [[2], [2, 3, 5], [9, 1]] },
        ],
      }),
    );
    const q = (b: Record<string, string>) =>
      [b.severity, b.series, ...['Min', 'Q1', 'Median', 'Q3', 'Max'].map((k) => Number(b[`${k} of σ²`]))] as const;
    // [1, 2, 3, 4]: Q1 at position 0.75 → 1.75, median 2.5, Q3 at 2.25 → 3.25; [2, 3, 5]: 2.5, 3, 4;
    // [1, 9]: 1 + 8·¼ = 3, 5, 7
    expect(items(svg, 'box').map(q)).toEqual([
      ['clean', 'A', 1, 1, 1, 1, 1],
      ['1', 'A', 1, 1.75, 2.5, 3.25, 4],
      ['clean', 'B', 2, 2, 2, 2, 2],
      ['1', 'B', 2, 2.5, 3, 4, 5],
      ['2', 'B', 1, 3, 5, 7, 9],
    ]);
  });
});
