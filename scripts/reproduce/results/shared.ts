/**
 * The types every part of the results writer shares (a finished experiment, the machine, the input), the method
 * families of the tables, and the small helpers the sections use: statistics over seeds, number formats, the
 * markdown table.
 */
import { formatStat, meanStd, type Stat, type SubsetRow } from '@arcal/contracts';
import type { PartRecord } from '../parts.ts';
import type { Family, PlannedExperiment, Preset } from '../plan.ts';
import type { ExperimentSummary } from '../summary.ts';

export interface Finished {
  planned: PlannedExperiment;
  summary?: ExperimentSummary;
  error?: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  backend: string;
  threads?: number;
}

export interface ResultsInput {
  preset: Preset;
  experiments: Finished[];
  machine: Machine;
  generatedAt: string;
  /** Wall time of this invocation of the script (experiments finished earlier are not in it). */
  scriptSeconds: number;
  dataSource?: string;
  /** Where the summaries are published, relative to the results file (e.g. `data/fashion-mnist`). */
  dataDir?: string;
  /** Experiments planned only once the sweeps have chosen ε and α (not yet in `experiments`). */
  awaitingChoice?: number;
  /** The parts that ran the experiments (parts.json beside the summaries); absent: not stated. */
  parts?: PartRecord[];
}

/** "No change in accuracy" holds when the paired change is shown to lie within ± this (a fraction). */
export const ACCURACY_MARGIN = 0.01;
/** Fig. 2c's "least robust subsets": the first three of R (the least robust 30 % at R = 10). */
export const LEAST_ROBUST_SUBSETS = 3;

export interface OodSection {
  aurocEntropy: number;
  aurocMaxProb: number;
  meanEntropyOut: number;
  histogramOut: { edges: number[]; counts: number[]; density: number[] };
}

export type Summary = ExperimentSummary;
export const done = (xs: Finished[]) => xs.filter((x): x is Finished & { summary: Summary } => x.summary !== undefined);
export const finite = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
export const statOf = (vals: Array<number | undefined>): Stat | undefined => {
  const v = vals.filter(finite);
  return v.length ? meanStd(v) : undefined;
};
export const pct = (s: Stat | undefined, digits = 2) => formatStat(s, 100, digits);
export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export const SINGLE: Family[] = [
  'vanilla',
  'temperature-scaling',
  'label-smoothing',
  'adals',
  'ar-adals',
  'ar-adals-otf',
  'mixup',
  'ccat',
  'mix-n-match',
];
export const ENSEMBLES: Family[] = [
  'ens-vanilla',
  'ens-label-smoothing',
  'ens-adals',
  'ens-ar-adals',
  'ar-adals-of-ensemble',
];

export const shiftMean = (r: Summary, key: 'ece' | 'accuracy' | 'variance') => {
  const v = (r.shift?.rows ?? []).map((x) => x[key]).filter(finite);
  return v.length ? mean(v) : undefined;
};
export const oodOf = (r: Summary) => r.ood as OodSection | undefined;

export function table(head: string[], rows: string[][], align: 'numbers' | 'text' = 'numbers'): string {
  const rule = head.map((_, i) => (i === 0 || align === 'text' ? ':---' : '---:')).join('|');
  return [`| ${head.join(' | ')} |`, `|${rule}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Per-subset mean ± std over summaries of one field of bySubset. */
export function bySubsetSeries(rs: Summary[], field: keyof Pick<SubsetRow, 'acc' | 'conf' | 'ece' | 'variance'>) {
  const withRows = rs.filter((r) => r.bySubset.length && r.bySubset.every((b) => finite(b[field])));
  if (!withRows.length) return [];
  const R = Math.min(...withRows.map((r) => r.bySubset.length));
  return Array.from({ length: R }, (_, i) => {
    const s = meanStd(withRows.map((r) => r.bySubset[i][field] as number));
    return { x: i + 1, y: s.mean, err: s.std ?? undefined };
  });
}

/** A set-up check: a precondition of the paper's regime, reported but not one of the judged claims. */
export interface SetupCheck {
  text: string;
  result: 'yes' | 'no' | 'not measured';
  evidence: string;
}

export const PP = (v: number) => `${(100 * v).toFixed(2)} pp`;
export const PP_PER_SUBSET = (v: number) => `${(100 * v).toFixed(2)} pp/subset`;
export const AUROC = (v: number) => v.toFixed(3);
export const EXP = (v: number) => v.toExponential(2);
export const EXP_PER_SUBSET = (v: number) => `${v.toExponential(2)}/subset`;

export const meanText = (xs: number[], format: (v: number) => string) => (xs.length ? format(mean(xs)) : '–');
export const strip = (s: string) => s.replace(/ pp$/, '').replace(/ pp\/subset$/, '');

/** p-values: two significant digits; 0 only where every pair differs by the same amount (no spread to test). */
export const fmtP = (p: number | undefined) =>
  p === undefined ? '–' : p === 0 ? '0' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
