/**
 * Aggregation of a study's reports: mean ± sample standard deviation over seeds per configuration, and the
 * selection of the best configuration by a validation metric (the paper sweeps label smoothing's ε and keeps
 * the one with the best validation ECE). Pure: reports in, numbers and markdown out.
 */
import type { ExperimentReport } from './report.ts';
import { metricIsHigherBetter, type StudyMetric } from './study.schema.ts';
import type { StudyExperiment } from './study-expand.ts';

/** Everything aggregated per configuration (the study metrics plus variance, OOD AUROC and wall time). */
export const AGGREGATED_METRICS = [
  'test.accuracy',
  'test.ece',
  'test.nll',
  'test.brier',
  'validation.accuracy',
  'validation.ece',
  'validation.nll',
  'validation.brier',
  'selection.accuracy',
  'selection.ece',
  'selection.nll',
  'shift.ece',
  'variance',
  'ood.auroc',
  'seconds',
] as const;
export type AggregatedMetric = (typeof AGGREGATED_METRICS)[number];

/**
 * One metric of a report, or undefined when the report does not have it.
 * - `test.*`: the final (ensemble-averaged, post-hoc calibrated) test metrics.
 * - `validation.*`: the last epoch's validation metrics: the ensemble record when the run has one (joint
 *   ensembles), else the mean over the members' records of that epoch. Post-hoc calibrators are fitted on the
 *   validation set, so for them these are the metrics before calibration.
 * - `selection.*`: the final model(s) on the selection split, post-hoc calibrated like `test.*` (absent without one).
 * - `shift.ece`: mean ECE over every corruption × severity row.
 * - `variance`: σ² across members on clean test data; `ood.auroc`: AUROC of the negative entropy;
 *   `seconds`: total wall time.
 */
export function reportMetric(report: ExperimentReport, metric: StudyMetric | AggregatedMetric): number | undefined {
  const [group, field] = metric.split('.') as [string, string | undefined];
  switch (group) {
    case 'test':
      return (report.final as unknown as Record<string, number>)[field!];
    case 'validation': {
      const withVal = report.epochs.filter((e) => e.validation && e.member !== -1);
      if (!withVal.length) return undefined;
      const last = Math.max(...withVal.map((e) => e.epoch));
      const atLast = withVal.filter((e) => e.epoch === last);
      const ens = atLast.filter((e) => e.member === 'ensemble');
      const use = ens.length ? ens : atLast;
      return use.reduce((s, e) => s + (e.validation as unknown as Record<string, number>)[field!], 0) / use.length;
    }
    case 'selection':
      return (report.selection as unknown as Record<string, number> | undefined)?.[field!];
    case 'shift': {
      const rows = (report.shift as { rows?: Array<{ ece: number }> } | undefined)?.rows;
      return rows?.length ? rows.reduce((s, r) => s + r.ece, 0) / rows.length : undefined;
    }
    case 'variance':
      return report.variance;
    case 'ood':
      return (report.ood as { aurocEntropy?: number } | undefined)?.aurocEntropy;
    case 'seconds':
      return report.timings.totalSeconds;
    default:
      return undefined;
  }
}

export interface Stat {
  /** Arithmetic mean x̄ = (1/n) Σ xᵢ. */
  mean: number;
  /** Sample standard deviation √(Σ (xᵢ − x̄)² / (n − 1)); null for a single value. */
  std: number | null;
  n: number;
}

/** Mean and sample standard deviation (n − 1 in the denominator) of a non-empty list. */
export function meanStd(values: number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: null, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n };
}

export interface ConfigurationSummary {
  configKey: string;
  config: Record<string, unknown>;
  seeds: number[];
  experiments: string[];
  metrics: Partial<Record<AggregatedMetric, Stat>>;
}

/** Groups finished experiments by configuration (first appearance order) and aggregates every metric over seeds. */
export function aggregateStudy(
  items: Array<{ experiment: StudyExperiment; report: ExperimentReport }>,
): ConfigurationSummary[] {
  const groups = new Map<string, Array<{ experiment: StudyExperiment; report: ExperimentReport }>>();
  for (const it of items) {
    const g = groups.get(it.experiment.configKey);
    if (g) g.push(it);
    else groups.set(it.experiment.configKey, [it]);
  }
  return [...groups.values()].map((g) => {
    const metrics: ConfigurationSummary['metrics'] = {};
    for (const m of AGGREGATED_METRICS) {
      const vals = g
        .map((it) => reportMetric(it.report, m))
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (vals.length) metrics[m] = meanStd(vals);
    }
    return {
      configKey: g[0].experiment.configKey,
      config: g[0].experiment.config,
      seeds: g.map((it) => it.experiment.seed),
      experiments: g.map((it) => it.experiment.name),
      metrics,
    };
  });
}

export interface SelectionGroup {
  /** The varied values shared by the candidates (everything but `by`). */
  fixed: Record<string, unknown>;
  candidates: Array<{ configKey: string; value: unknown; score: number }>;
  best: { configKey: string; value: unknown; score: number };
}

export interface Selection {
  metric: StudyMetric;
  by?: string;
  higherIsBetter: boolean;
  groups: SelectionGroup[];
}

/**
 * The best configuration by the mean of `metric` over seeds. With `by`, configurations are grouped by every
 * other varied value and the best value of `by` is chosen within each group; without it, one winner overall.
 * Ties keep the first candidate in grid order. Configurations without the metric are skipped.
 */
export function selectBest(configs: ConfigurationSummary[], select: { metric: StudyMetric; by?: string }): Selection {
  const higher = metricIsHigherBetter(select.metric);
  const groups = new Map<string, SelectionGroup>();
  for (const c of configs) {
    const stat = c.metrics[select.metric as AggregatedMetric];
    if (!stat) continue;
    const { [select.by ?? '\u0000']: value, ...fixed } = c.config;
    const key = JSON.stringify(Object.entries(select.by ? fixed : {}));
    const cand = { configKey: c.configKey, value: select.by ? value : c.config, score: stat.mean };
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { fixed: select.by ? fixed : {}, candidates: [cand], best: cand });
    } else {
      g.candidates.push(cand);
      if (higher ? cand.score > g.best.score : cand.score < g.best.score) g.best = cand;
    }
  }
  return {
    metric: select.metric,
    ...(select.by ? { by: select.by } : {}),
    higherIsBetter: higher,
    groups: [...groups.values()],
  };
}

const fmtValue = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** `mean ± std` scaled (e.g. ×100 for ECE in 10⁻²); `mean` alone for a single run. */
export function formatStat(s: Stat | undefined, scale = 1, digits = 2): string {
  if (!s) return '–';
  const m = (s.mean * scale).toFixed(digits);
  return s.std === null ? m : `${m} ± ${(s.std * scale).toFixed(digits)}`;
}

/**
 * A markdown table of a study: one row per configuration with its varied values, the number of seeds, and
 * test accuracy/ECE/NLL, validation ECE and (when present) shift ECE, accuracies and ECEs in %. Rows chosen
 * by the selection are marked ★.
 */
export function studyMarkdown(name: string, configs: ConfigurationSummary[], selection?: Selection): string {
  const paths = [...new Set(configs.flatMap((c) => Object.keys(c.config)))];
  const hasShift = configs.some((c) => c.metrics['shift.ece']);
  const chosen = new Set(selection?.groups.map((g) => g.best.configKey) ?? []);
  const head = [
    ...paths,
    'seeds',
    'test acc (%)',
    'test ECE (%)',
    'test NLL',
    'val ECE (%)',
    ...(hasShift ? ['shift ECE (%)'] : []),
    ...(selection ? ['selected'] : []),
  ];
  const lines = [`## ${name}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const c of configs) {
    const m = c.metrics;
    const row = [
      ...paths.map((p) => (p in c.config ? fmtValue(c.config[p]) : '')),
      String(c.seeds.length),
      formatStat(m['test.accuracy'], 100),
      formatStat(m['test.ece'], 100),
      formatStat(m['test.nll'], 1, 4),
      formatStat(m['validation.ece'], 100),
      ...(hasShift ? [formatStat(m['shift.ece'], 100)] : []),
      ...(selection ? [chosen.has(c.configKey) ? '★' : ''] : []),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  if (selection) {
    lines.push(
      '',
      `Selection: ${selection.higherIsBetter ? 'highest' : 'lowest'} mean ${selection.metric}${selection.by ? ` over ${selection.by}` : ''}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
