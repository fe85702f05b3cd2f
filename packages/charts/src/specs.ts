/**
 * Vega-Lite specs of arcal's figures, as pure functions of report data. The dashboard embeds them in the
 * browser and `arcal report --figures` renders the same specs to SVG in Node, so both show one picture.
 * Imports types only: this module must stay free of DOM, Node and vega run-time code. Charts of plain series
 * (lines with error bars, step histograms, box plots; series.ts) serve figures aggregated elsewhere, such as
 * the reproduction's.
 */

import type { Histogram, MetricRow, ReportExtras, StudyReport } from '@arcal/client';
import type { ExperimentReport, SubsetRow } from '@arcal/contracts';
import { base, type ChartSpec, SCHEMA } from './base.ts';

export type { ChartSpec } from './base.ts';
export * from './series.ts';

export interface Chart {
  /** Stable id: DOM data-chart attribute, figure file name. */
  name: string;
  title: string;
  spec: ChartSpec;
}

/** One training-curve point: member ('ensemble' for joint records), epoch (1-based, as recorded), metric. */
export interface EpochPoint {
  member: string;
  epoch: number;
  metric: 'loss' | 'accuracy' | 'ECE';
  value: number;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Curves from a finished report's epoch records. */
export function epochPointsFromReport(epochs: ExperimentReport['epochs']): EpochPoint[] {
  const out: EpochPoint[] = [];
  for (const e of epochs) {
    const member = e.member === 'ensemble' ? 'ensemble' : `member ${e.member}`;
    const epoch = e.epoch;
    if (finite(e.trainLoss)) out.push({ member, epoch, metric: 'loss', value: e.trainLoss });
    if (finite(e.trainAccuracy)) out.push({ member, epoch, metric: 'accuracy', value: e.trainAccuracy });
    if (finite(e.validation?.ece)) out.push({ member, epoch, metric: 'ECE', value: e.validation!.ece });
  }
  return out;
}

/** Curves from live per-epoch metrics (GET /metrics or SSE epoch events). Negative members are pseudo-members. */
export function epochPointsFromMetrics(
  rows: Array<Pick<MetricRow, 'member' | 'epoch' | 'trainLoss' | 'trainAccuracy' | 'valEce'>>,
): EpochPoint[] {
  const out: EpochPoint[] = [];
  for (const r of rows) {
    if (r.member < 0) continue;
    const member = `member ${r.member}`;
    const epoch = r.epoch;
    if (finite(r.trainLoss)) out.push({ member, epoch, metric: 'loss', value: r.trainLoss });
    if (finite(r.trainAccuracy)) out.push({ member, epoch, metric: 'accuracy', value: r.trainAccuracy });
    if (finite(r.valEce)) out.push({ member, epoch, metric: 'ECE', value: r.valEce });
  }
  return out;
}

/** Training loss, training accuracy and validation ECE per epoch, one line (with points) per member. */
export function epochCurvesSpec(points: EpochPoint[]): ChartSpec {
  return {
    $schema: SCHEMA,
    title: 'Training curves',
    background: 'white',
    data: { values: points },
    facet: { column: { field: 'metric', type: 'nominal', sort: ['loss', 'accuracy', 'ECE'], title: null } },
    spec: {
      width: 220,
      height: 160,
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'member', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** Correct-class soft label p̃ per robustness subset and epoch (paper Eq. 4 updates), as a heatmap. */
export interface SoftLabelCell {
  epoch: number;
  subset: number;
  pTrue: number;
}

/** Cells of the first member that recorded soft labels (joint ensembles record them under 'ensemble'). */
export function softLabelCells(
  epochs: Array<{ member: number | string; epoch: number; softLabels?: { pTrue: number[] } | null }>,
): SoftLabelCell[] {
  const withLabels = epochs.filter((e) => e.softLabels && Array.isArray(e.softLabels.pTrue));
  if (!withLabels.length) return [];
  const first = withLabels[0]!.member;
  return withLabels
    .filter((e) => e.member === first)
    .flatMap((e) => e.softLabels!.pTrue.map((p, subset) => ({ epoch: e.epoch, subset, pTrue: p })));
}

export function softLabelHeatmapSpec(cells: SoftLabelCell[]): ChartSpec {
  return base('Soft label p̃ (correct class) per robustness subset', {
    data: { values: cells },
    mark: { type: 'rect', tooltip: true },
    encoding: {
      x: { field: 'epoch', type: 'ordinal', title: 'epoch' },
      y: { field: 'subset', type: 'ordinal', title: 'robustness subset (least → most robust)' },
      color: { field: 'pTrue', type: 'quantitative', title: 'p̃', scale: { scheme: 'viridis' } },
    },
  });
}

/** Reliability diagram: accuracy per confidence bin (bins with samples), against the diagonal. */
export function reliabilitySpec(bins: Array<{ count: number; acc: number; conf: number }>): ChartSpec {
  const K = bins.length;
  const values = bins
    .map((b, k) => ({ lo: k / K, hi: (k + 1) / K, zero: 0, acc: b.acc, conf: b.conf, count: b.count }))
    .filter((b) => b.count > 0);
  return base('Reliability diagram (test set)', {
    layer: [
      {
        data: { values },
        mark: { type: 'rect', tooltip: true, stroke: 'white' },
        encoding: {
          x: { field: 'lo', type: 'quantitative', scale: { domain: [0, 1] }, title: 'confidence' },
          x2: { field: 'hi' },
          y: { field: 'acc', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy' },
          y2: { field: 'zero' },
          color: { value: '#4c78a8' },
          tooltip: [
            { field: 'conf', format: '.3f', title: 'mean confidence' },
            { field: 'acc', format: '.3f', title: 'accuracy' },
            { field: 'count', title: 'samples' },
          ],
        },
      },
      {
        data: { values: [{ a: 0 }, { a: 1 }] },
        mark: { type: 'line', color: '#888', strokeDash: [4, 4] },
        encoding: {
          x: { field: 'a', type: 'quantitative' },
          y: { field: 'a', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy' },
        },
      },
    ],
  });
}

/** Accuracy against mean confidence of each robustness subset (a well-calibrated model sits on the diagonal). */
export function subsetAccConfSpec(rows: SubsetRow[]): ChartSpec {
  return base('Accuracy vs confidence per robustness subset', {
    layer: [
      {
        data: { values: [{ a: 0 }, { a: 1 }] },
        mark: { type: 'line', color: '#888', strokeDash: [4, 4] },
        encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'a', type: 'quantitative' } },
      },
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 70, tooltip: true },
        encoding: {
          x: { field: 'conf', type: 'quantitative', scale: { domain: [0, 1] }, title: 'mean confidence' },
          y: { field: 'acc', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy' },
          color: { field: 'subset', type: 'ordinal', title: 'subset', scale: { scheme: 'viridis' } },
        },
      },
    ],
  });
}

/** ECE of each robustness subset (paper Fig. 1: less robust subsets are the over-confident ones). */
export function subsetEceSpec(rows: SubsetRow[]): ChartSpec {
  return base('ECE per robustness subset', {
    data: { values: rows },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'subset', type: 'ordinal', title: 'robustness subset (least → most robust)' },
      y: { field: 'ece', type: 'quantitative', title: 'ECE' },
    },
  });
}

/** Mean ECE over corruptions at each shift severity (paper Fig. 3). */
export function shiftSeveritySpec(rows: NonNullable<ReportExtras['shift']>['meanEceBySeverity']): ChartSpec {
  return base('Mean ECE per shift severity', {
    data: { values: rows.filter((r) => finite(r.meanEce)) },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'severity', type: 'ordinal', title: 'severity' },
      y: { field: 'meanEce', type: 'quantitative', title: 'mean ECE' },
    },
  });
}

export interface HistogramBar {
  set: 'in-distribution' | 'out-of-distribution';
  lo: number;
  hi: number;
  fraction: number;
}

/** Both entropy histograms as fractions of their own set (the two sets differ in size). */
export function oodBars(ood: { histogramIn: Histogram; histogramOut: Histogram }): HistogramBar[] {
  const bars = (h: Histogram, set: HistogramBar['set']) => {
    const total = h.counts.reduce((a, b) => a + b, 0) + (h.outside ?? 0);
    return h.counts.map((c, i) => ({ set, lo: h.edges[i]!, hi: h.edges[i + 1]!, fraction: total > 0 ? c / total : 0 }));
  };
  return [...bars(ood.histogramIn, 'in-distribution'), ...bars(ood.histogramOut, 'out-of-distribution')];
}

/** Predictive-entropy histograms of the test set and the OOD set, overlaid (paper Fig. 4). */
export function oodHistogramSpec(bars: HistogramBar[]): ChartSpec {
  return base('Predictive entropy: in- vs out-of-distribution', {
    data: { values: bars },
    mark: { type: 'rect', opacity: 0.55, tooltip: true },
    encoding: {
      x: { field: 'lo', type: 'quantitative', title: 'entropy (nats)' },
      x2: { field: 'hi' },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of set', stack: null },
      color: { field: 'set', type: 'nominal', title: null },
    },
  });
}

export interface CompareRow {
  experiment: string;
  metric: 'accuracy' | 'ECE' | 'NLL' | 'Brier';
  value: number;
}

/** Final test metrics of several experiments side by side. */
export function compareFinalSpec(rows: CompareRow[]): ChartSpec {
  return {
    $schema: SCHEMA,
    title: 'Final test metrics',
    background: 'white',
    data: { values: rows },
    facet: { column: { field: 'metric', type: 'nominal', sort: ['accuracy', 'ECE', 'NLL', 'Brier'], title: null } },
    spec: {
      width: 150,
      height: 180,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'experiment', type: 'nominal', title: null, axis: { labelAngle: -30 } },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'experiment', type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** ECE per robustness subset of several experiments, one line each. */
export function compareSubsetEceSpec(rows: Array<{ experiment: string; subset: number; ece: number }>): ChartSpec {
  return base('ECE per robustness subset', {
    data: { values: rows },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'subset', type: 'ordinal', title: 'robustness subset' },
      y: { field: 'ece', type: 'quantitative', title: 'ECE' },
      color: { field: 'experiment', type: 'nominal', title: null },
    },
  });
}

/** Every figure a stored report supports, in display order; sections the report lacks are left out. */
export function reportCharts(report: ExperimentReport & ReportExtras): Chart[] {
  const out: Chart[] = [];
  const points = epochPointsFromReport(report.epochs ?? []);
  if (points.length) out.push({ name: 'epoch-curves', title: 'Training curves', spec: epochCurvesSpec(points) });
  const cells = softLabelCells(report.epochs ?? []);
  if (cells.length)
    out.push({ name: 'soft-labels', title: 'Soft labels per robustness subset', spec: softLabelHeatmapSpec(cells) });
  if (report.final?.reliability?.length)
    out.push({ name: 'reliability', title: 'Reliability diagram', spec: reliabilitySpec(report.final.reliability) });
  if (report.bySubset?.length) {
    out.push({
      name: 'subset-acc-conf',
      title: 'Accuracy vs confidence per subset',
      spec: subsetAccConfSpec(report.bySubset),
    });
    out.push({ name: 'subset-ece', title: 'ECE per subset', spec: subsetEceSpec(report.bySubset) });
  }
  if (report.shift?.meanEceBySeverity?.length)
    out.push({
      name: 'shift-severity',
      title: 'Mean ECE per shift severity',
      spec: shiftSeveritySpec(report.shift.meanEceBySeverity),
    });
  if (report.ood?.histogramIn && report.ood.histogramOut)
    out.push({ name: 'ood-entropy', title: 'OOD entropy histograms', spec: oodHistogramSpec(oodBars(report.ood)) });
  return out;
}

/** Compare figures for several (name, report) pairs. */
export function compareCharts(items: Array<{ name: string; report: ExperimentReport & ReportExtras }>): Chart[] {
  const rows: CompareRow[] = items.flatMap(({ name, report }) => [
    { experiment: name, metric: 'accuracy' as const, value: report.final.accuracy },
    { experiment: name, metric: 'ECE' as const, value: report.final.ece },
    { experiment: name, metric: 'NLL' as const, value: report.final.nll },
    { experiment: name, metric: 'Brier' as const, value: report.final.brier },
  ]);
  const out: Chart[] = [{ name: 'compare-final', title: 'Final test metrics', spec: compareFinalSpec(rows) }];
  const subsets = items.flatMap(({ name, report }) =>
    (report.bySubset ?? []).map((r) => ({ experiment: name, subset: r.subset, ece: r.ece })),
  );
  if (subsets.length)
    out.push({ name: 'compare-subset-ece', title: 'ECE per robustness subset', spec: compareSubsetEceSpec(subsets) });
  return out;
}

// ---------------------------------------------------------------- studies

/** The dot path of the number of robustness subsets R used in training (AR-AdaLS). */
export const SUBSETS_PATH = 'method.subsets';

/** One point of ECE vs R: a configuration's mean over seeds, with ± one sample standard deviation. */
export interface EceVsRPoint {
  R: number;
  /** Which ECE: on the clean test set, or the mean over corruptions × severities. */
  set: 'clean test' | 'shift';
  /** The configuration's other varied values ('' when R is the only one). */
  series: string;
  ece: number;
  /** Sample standard deviation over seeds; 0 for a single seed. */
  std: number;
  lo: number;
  hi: number;
  seeds: number;
}

const valueText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Points of ECE vs R from a study's aggregated configurations (those that vary `method.subsets`): clean test
 * ECE, and shift ECE where the reports have it. Ordered by set, series, then R.
 */
export function eceVsRPoints(configurations: StudyReport['configurations']): EceVsRPoint[] {
  const out: EceVsRPoint[] = [];
  for (const c of configurations) {
    const R = c.config[SUBSETS_PATH];
    if (typeof R !== 'number') continue;
    const series = Object.entries(c.config)
      .filter(([k]) => k !== SUBSETS_PATH)
      .map(([k, v]) => `${k}=${valueText(v)}`)
      .join(', ');
    for (const [set, metric] of [
      ['clean test', 'test.ece'],
      ['shift', 'shift.ece'],
    ] as const) {
      const stat = c.metrics[metric];
      if (!stat || !finite(stat.mean)) continue;
      const std = stat.std ?? 0;
      out.push({ R, set, series, ece: stat.mean, std, lo: stat.mean - std, hi: stat.mean + std, seeds: stat.n });
    }
  }
  const order = (p: EceVsRPoint) => [p.set === 'clean test' ? 0 : 1, p.series, p.R] as const;
  return out.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] - y[0] || x[1].localeCompare(y[1]) || x[2] - y[2];
  });
}

/**
 * ECE against the number of robustness subsets R (paper Fig. 5): mean over seeds as a line with a point per R,
 * ± one standard deviation as error bars; clean test and shift ECE in two colours, other varied values as
 * dash patterns.
 */
export function eceVsRSpec(points: EceVsRPoint[]): ChartSpec {
  const Rs = [...new Set(points.map((p) => p.R))].sort((a, b) => a - b);
  const multiSeries = new Set(points.map((p) => p.series)).size > 1;
  const x = {
    field: 'R',
    type: 'quantitative',
    title: 'robustness subsets R',
    scale: { zero: false, nice: false, padding: 16 },
    axis: { values: Rs, format: 'd' },
  };
  const color = { field: 'set', type: 'nominal', title: 'ECE on', sort: ['clean test', 'shift'] };
  return base('ECE vs number of robustness subsets R (mean ± std over seeds)', {
    data: { values: points },
    layer: [
      {
        mark: { type: 'rule' },
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', title: 'ECE' },
          y2: { field: 'hi' },
          color,
          ...(multiSeries ? { detail: { field: 'series', type: 'nominal' } } : {}),
        },
      },
      {
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'ece', type: 'quantitative', title: 'ECE' },
          color,
          ...(multiSeries ? { strokeDash: { field: 'series', type: 'nominal', title: null } } : {}),
          tooltip: [
            { field: 'set', title: 'ECE on' },
            { field: 'ece', title: 'ECE', format: '.4f' },
            { field: 'std', title: 'std', format: '.4f' },
            { field: 'seeds', title: 'seeds' },
            ...(multiSeries ? [{ field: 'series', title: 'other values' }] : []),
          ],
        },
      },
    ],
  });
}

/** Figures of a study's report: ECE vs R when the study varies method.subsets. */
export function studyCharts(report: Pick<StudyReport, 'configurations'>): Chart[] {
  const points = eceVsRPoints(report.configurations);
  return points.length ? [{ name: 'ece-vs-r', title: 'ECE vs R', spec: eceVsRSpec(points) }] : [];
}
