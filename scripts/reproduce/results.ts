/**
 * docs/RESULTS.md and its SVG figures from the per-experiment summaries of a reproduction run (summary.ts).
 * Pure: summaries in, markdown and the figures' Vega-Lite specs (@arcal/charts, the dashboard's and the CLI's
 * chart stack) out, so it can be checked on fabricated summaries and re-run on the published docs/data/ files
 * alone; `figuresToSvg` renders the specs. One function per table or figure group; each adds its markdown, its
 * figures and the paper's claims it can judge to a shared context, and the verdict section judges them together
 * (verdicts.ts: paired per-seed differences, Holm across the claims).
 */
import { boxPlotSpec, type ChartSpec, lineSeriesSpec, stepHistogramSpec } from '@arcal/charts';
import { chartToSvg } from '@arcal/charts/render';
import {
  aggregateStudy,
  type ExperimentReport,
  formatStat,
  meanStd,
  type Stat,
  type SubsetRow,
  selectBest,
} from '@arcal/contracts';
import { alphasOf, type Chosen, FAMILY_LABEL, type Family, type PlannedExperiment, type Preset } from './plan.ts';
import { pairedTTest, slope, studentTQuantile } from './stats.ts';
import type { ExperimentSummary } from './summary.ts';
import { ALPHA, type Claim, type Judged, judgeClaims } from './verdicts.ts';

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
}

/** "No change in accuracy" holds when the paired change is shown to lie within ± this (a fraction). */
export const ACCURACY_MARGIN = 0.01;
/** Fig. 2c's "least robust subsets": the first three of R (the least robust 30 % at R = 10). */
export const LEAST_ROBUST_SUBSETS = 3;

interface OodSection {
  aurocEntropy: number;
  aurocMaxProb: number;
  meanEntropyOut: number;
  histogramOut: { edges: number[]; counts: number[]; density: number[] };
}

type Summary = ExperimentSummary;
const done = (xs: Finished[]) => xs.filter((x): x is Finished & { summary: Summary } => x.summary !== undefined);
const finite = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const statOf = (vals: Array<number | undefined>): Stat | undefined => {
  const v = vals.filter(finite);
  return v.length ? meanStd(v) : undefined;
};
const pct = (s: Stat | undefined, digits = 2) => formatStat(s, 100, digits);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The value of a swept path (ε, α) whose runs have the lowest mean ECE over seeds (the paper's rule for label
 * smoothing), on the selection split when every run has one (dataset.selectionSize > 0): held out from Eq. 3's
 * update, so the choice is not made on the data the soft labels were fitted to. Runs without one fall back to the
 * validation split, which is then also the one Eq. 3 reads.
 */
export function selectSwept(
  experiments: Finished[],
  family: Family,
  path: string,
): { value: number; metric: SweepMetric; candidates: Array<{ value: number; ece: number }> } | undefined {
  const runs = done(experiments).filter((x) => x.planned.family === family && path in x.planned.config);
  if (!runs.length) return undefined;
  const configs = aggregateStudy(
    runs.map((x) => ({
      experiment: {
        name: x.planned.dir,
        slug: x.planned.dir,
        config: x.planned.config,
        configKey: JSON.stringify(x.planned.config),
        seed: x.planned.seed,
        spec: x.planned.spec,
      },
      // a summary carries every field the metrics read (the epochs' validation records, the selection section)
      report: x.summary as unknown as ExperimentReport,
    })),
  );
  const metric: SweepMetric = runs.every((x) => x.summary.selection) ? 'selection.ece' : 'validation.ece';
  const sel = selectBest(configs, { metric });
  const best = sel.groups[0]?.best;
  if (!best) return undefined;
  return {
    value: (best.value as Record<string, number>)[path],
    metric,
    candidates: sel.groups[0].candidates.map((c) => ({
      value: (c.value as Record<string, number>)[path],
      ece: c.score,
    })),
  };
}

type SweepMetric = 'selection.ece' | 'validation.ece';
const selectionLabel = (p: Preset): string =>
  sweepMetricLabel(p.dataset.selectionSize ? 'selection.ece' : 'validation.ece');
/** How RESULTS.md names the split a sweep was chosen on. */
export const sweepMetricLabel = (m: SweepMetric): string =>
  m === 'selection.ece' ? 'mean selection-split ECE' : 'mean validation ECE';

/** The ε of the label-smoothing sweep with the lowest mean validation ECE over seeds. */
export function selectLsEpsilon(
  experiments: Finished[],
): { epsilon: number; metric: SweepMetric; candidates: Array<{ epsilon: number; ece: number }> } | undefined {
  const s = selectSwept(experiments, 'label-smoothing', 'method.epsilon');
  return (
    s && { epsilon: s.value, metric: s.metric, candidates: s.candidates.map((c) => ({ epsilon: c.value, ece: c.ece })) }
  );
}

/** Everything the sweeps chose so far (α only where the preset sweeps it). */
export function chooseSwept(experiments: Finished[], p: Preset): Chosen {
  const sweep = p.alphas.length > 1;
  return {
    epsilon: selectLsEpsilon(experiments)?.epsilon,
    alphaAdaLS: sweep ? selectSwept(experiments, 'adals', 'method.alpha')?.value : undefined,
    alphaArAdaLS: sweep ? selectSwept(experiments, 'ar-adals', 'method.alpha')?.value : undefined,
  };
}

const SINGLE: Family[] = [
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
const ENSEMBLES: Family[] = ['ens-vanilla', 'ens-label-smoothing', 'ens-adals', 'ens-ar-adals', 'ar-adals-of-ensemble'];

const shiftMean = (r: Summary, key: 'ece' | 'accuracy' | 'variance') => {
  const v = (r.shift?.rows ?? []).map((x) => x[key]).filter(finite);
  return v.length ? mean(v) : undefined;
};
const oodOf = (r: Summary) => r.ood as OodSection | undefined;

function table(head: string[], rows: string[][], align: 'numbers' | 'text' = 'numbers'): string {
  const rule = head.map((_, i) => (i === 0 || align === 'text' ? ':---' : '---:')).join('|');
  return [`| ${head.join(' | ')} |`, `|${rule}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Per-subset mean ± std over summaries of one field of bySubset. */
function bySubsetSeries(rs: Summary[], field: keyof Pick<SubsetRow, 'acc' | 'conf' | 'ece' | 'variance'>) {
  const withRows = rs.filter((r) => r.bySubset.length && r.bySubset.every((b) => finite(b[field])));
  if (!withRows.length) return [];
  const R = Math.min(...withRows.map((r) => r.bySubset.length));
  return Array.from({ length: R }, (_, i) => {
    const s = meanStd(withRows.map((r) => r.bySubset[i][field] as number));
    return { x: i + 1, y: s.mean, err: s.std ?? undefined };
  });
}

/** A set-up check: a precondition of the paper's regime, reported but not one of the judged claims. */
interface SetupCheck {
  text: string;
  result: 'yes' | 'no' | 'not measured';
  evidence: string;
}

const PP = (v: number) => `${(100 * v).toFixed(2)} pp`;
const PP_PER_SUBSET = (v: number) => `${(100 * v).toFixed(2)} pp/subset`;
const AUROC = (v: number) => v.toFixed(3);
const EXP = (v: number) => v.toExponential(2);
const EXP_PER_SUBSET = (v: number) => `${v.toExponential(2)}/subset`;

interface Ctx {
  input: ResultsInput;
  p: Preset;
  sel: ReturnType<typeof selectLsEpsilon>;
  lsEps?: number;
  /** α of the AdaLS and AR-AdaLS rows (chosen by the sweep, or the preset's only one). */
  alpha: { adals?: number; arAdals?: number };
  md: string[];
  figures: Record<string, ChartSpec>;
  claims: Claim[];
  checks: SetupCheck[];
  /** Finished summaries of a row of the tables (for LS: only the selected ε), in seed order. */
  rows: (f: Family) => Summary[];
  label: (f: Family) => string;
}

/** Values of `get` for two families, paired by seed; seeds where either is missing are left out. */
function paired(ctx: Ctx, a: Family, b: Family, get: (r: Summary) => number | undefined, seeds?: number[]) {
  const B = new Map(ctx.rows(b).map((r) => [r.seed, r]));
  const out = { seeds: [] as number[], a: [] as number[], b: [] as number[], diffs: [] as number[] };
  for (const ra of ctx.rows(a)) {
    const rb = B.get(ra.seed);
    if (!rb || (seeds && !seeds.includes(ra.seed))) continue;
    const va = get(ra);
    const vb = get(rb);
    if (!finite(va) || !finite(vb)) continue;
    out.seeds.push(ra.seed);
    out.a.push(va);
    out.b.push(vb);
    out.diffs.push(va - vb);
  }
  return out;
}

const meanText = (xs: number[], format: (v: number) => string) => (xs.length ? format(mean(xs)) : '–');
const strip = (s: string) => s.replace(/ pp$/, '').replace(/ pp\/subset$/, '');

/** "A < B" (or ">") on a per-seed metric: the paired difference A − B, expected negative (or positive). */
function compareClaim(
  ctx: Ctx,
  o: {
    text: string;
    source: string;
    a: Family;
    b: Family;
    get: (r: Summary) => number | undefined;
    expect: 'negative' | 'positive';
    format: (v: number) => string;
    aName?: string;
    bName?: string;
    seeds?: number[];
    note?: string;
  },
): Claim {
  const pr = paired(ctx, o.a, o.b, o.get, o.seeds);
  return {
    text: o.text,
    source: o.source,
    seeds: pr.seeds,
    test: { kind: 'difference', expect: o.expect, diffs: pr.diffs },
    format: o.format,
    evidence: `${o.aName ?? ctx.label(o.a)} ${strip(meanText(pr.a, o.format))} vs ${o.bName ?? ctx.label(o.b)} ${strip(meanText(pr.b, o.format))}`,
    note: o.note,
  };
}

/** A trend over the robustness subsets: the per-seed least-squares slope of a subset field, tested against 0. */
function trendClaim(
  ctx: Ctx,
  o: {
    text: string;
    source: string;
    f: Family;
    field: 'acc' | 'conf' | 'ece' | 'variance';
    expect: 'negative' | 'positive';
    format: (v: number) => string;
  },
): Claim {
  const rs = ctx.rows(o.f).filter((r) => r.bySubset.length >= 2 && r.bySubset.every((b) => finite(b[o.field])));
  const slopes = rs.map((r) => slope(r.bySubset.map((b) => b[o.field] as number)));
  const first = statOf(rs.map((r) => r.bySubset[0][o.field]));
  const last = statOf(rs.map((r) => r.bySubset.at(-1)![o.field]));
  const show = o.format === PP_PER_SUBSET ? (s?: Stat) => pct(s) : (s?: Stat) => (s ? EXP(s.mean) : '–');
  return {
    text: o.text,
    source: o.source,
    seeds: rs.map((r) => r.seed),
    test: { kind: 'difference', expect: o.expect, diffs: slopes },
    format: o.format,
    evidence: `subset 1 ${show(first)} → subset R ${show(last)}`,
    note: 'per-seed least-squares slope over the R subsets, against 0',
  };
}

/** The machines and backends the summaries record, each with its number of experiments. */
function ranOn(summaries: Summary[]): string {
  const count = new Map<string, number>();
  for (const s of summaries) {
    const m = s.machine;
    const where = m ? `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}` : 'an unrecorded machine';
    const key = `${where}; backend ${s.backend}${s.threads ? ` (${s.threads} threads)` : ''}`;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return [...count].map(([k, n]) => `${k} (${n} experiment${n === 1 ? '' : 's'})`).join('; ');
}

function headerSection(ctx: Ctx): void {
  const { input, p, md } = ctx;
  const finished = done(input.experiments);
  const failed = input.experiments.filter((x) => x.error);
  const totalSeconds = finished.reduce((s, x) => s + x.summary.timings.totalSeconds, 0);
  md.push(
    `# Reproduction of the AR-AdaLS comparison on ${p.dataset.name === 'fashion-mnist' ? 'Fashion-MNIST' : p.dataset.name} (preset \`${p.name}\`)`,
    '',
    `Generated ${input.generatedAt} by \`npm run reproduce -- --preset ${p.name}\`. ${finished.length} of ${input.experiments.length} experiments finished` +
      `${failed.length ? `, ${failed.length} failed` : ''}. Compute: ${(totalSeconds / 3600).toFixed(2)} h summed over the experiments' summaries ` +
      `(this invocation: ${(input.scriptSeconds / 60).toFixed(1)} min).`,
    '',
    `Experiments ran on ${ranOn(finished.map((x) => x.summary)) || 'no machine yet'}. ` +
      `This file was generated on ${input.machine.cpu}, ${input.machine.cores} cores, ${input.machine.memoryGb.toFixed(0)} GB, ${input.machine.os}, Node ${input.machine.node}; ` +
      `tensor backend ${input.machine.backend}${input.machine.threads ? ` (${input.machine.threads} threads)` : ''}. Data: ${input.dataSource ?? p.dataset.name}.`,
    '',
    `Every number and verdict below is computed from the per-experiment summaries in \`${input.dataDir ?? `data/${p.name}`}/\` ` +
      '(one JSON file per finished experiment: its seed, method, configuration, clean, per-subset, shift and OOD metrics and its per-epoch records), and can be re-derived from them alone.',
    '',
    'ECE, accuracy and confidence are in %, NLL in nats. Rows are mean ± sample standard deviation over seeds (single models and ensembles alike; an ensemble run is M members trained from one seed).',
  );
  if (failed.length)
    md.push('', '**Failed experiments:**', '', ...failed.map((x) => `- \`${x.planned.dir}\`: ${x.error}`));
}

function setupSection(ctx: Ctx): void {
  const { p, md, lsEps } = ctx;
  md.push('', '## Setup and hyperparameters', '');
  md.push(
    'Marked † where the paper does not give the value (it trains CIFAR/ImageNet networks); the note says how it was chosen.',
    '',
  );
  const hp: string[][] = [
    [
      'data',
      `${p.dataset.name}: ${p.dataset.trainLimit} training, ${p.dataset.validationSize} validation${p.dataset.selectionSize ? ` (read by Eq. 3) and ${p.dataset.selectionSize} selection (choose ε and α only)` : ''} (disjoint seeded draws from the training file), first ${p.dataset.testLimit} test images`,
      '† sized for the compute budget',
    ],
    [
      'model',
      `\`${JSON.stringify(p.model)}\``,
      '† arcal reference network for 28×28×1 (the paper: ResNet-29 / WRN-28-10 / ResNet-101)',
    ],
    [
      'training',
      `${p.training.optimizer}, lr ${p.training.learningRate}, batch ${p.training.batchSize}, ${p.training.epochs} epochs, ${p.training.schedule ?? 'constant'} learning-rate schedule, last checkpoint`,
      '† chosen so the vanilla model fits its training set (~100 % accuracy), the over-confident regime the paper studies',
    ],
    [
      'seeds',
      `single models: ${p.seeds.join(', ')} (${p.seeds.length}); R sweep: ${p.rSeeds.join(', ')} (${p.rSeeds.length}); ensembles: ${p.ensembleSeeds.join(', ')} (${p.ensembleSeeds.length}), M = ${p.members}`,
      'paper: 4–5 runs per single model, one run per ensemble, M = 5; here every ensemble has several seeds so that its claims can be tested',
    ],
    [
      'label smoothing ε',
      `swept over {${p.lsEpsilons.join(', ')}}, selected by lowest ${selectionLabel(p)}${lsEps !== undefined ? `: ε = ${lsEps}` : ''}`,
      'paper: sweep, best validation (range † not given)',
    ],
    [
      'AdaLS / AR-AdaLS',
      `${p.alphas.length > 1 ? `α swept over {${p.alphas.join(', ')}} for each method, selected by lowest ${selectionLabel(p)} (AdaLS: α = ${ctx.alpha.adals ?? '–'}, AR-AdaLS: α = ${ctx.alpha.arAdals ?? '–'}; on-the-fly, the R sweep and the ensembles use the selected α; ${p.dataset.selectionSize ? 'the selection split is disjoint from the validation split Eq. 3 reads' : 'the validation split that chooses α is also the one Eq. 3 reads'})` : `α = ${p.alphas[0]}`}, R = ${p.subsets}, soft labels updated after every epoch, clipped to (1/Z, 1]`,
      'paper: R = 10, update each epoch; α †',
    ],
    [
      'adversarial robustness',
      `${p.attack.attack} (${p.attack.params.steps} steps), precomputed on a vanilla reference model of the same seed and settings; the on-the-fly variant starts from that reference ranking and re-attacks the model in training every ${p.onTheFlyEvery} epochs`,
      'paper: CW-L2; † FMN-L2 here (a minimal-L2 attack, cheaper); re-attack interval †',
    ],
    [
      'test robustness subsets',
      `${p.robustnessSubsets} subsets of the test set ranked by the vanilla reference model's robustness`,
      '† one ranking per seed shared by all methods of that seed, so subsets are comparable',
    ],
    ['mixup', `Beta(${p.mixupAlpha}, ${p.mixupAlpha})`, '† common value from Zhang et al. / Thulasidasan et al.'],
    [
      'CCAT',
      `ε∞ = ${p.ccat.epsilon}, ${p.ccat.steps} PGD steps of 2.5·ε/steps, ρ = ${p.ccat.rho}, half of each batch adversarial`,
      `† ε and ρ from Stutz et al. for MNIST; ${p.ccat.steps} steps instead of their longer attack, for time`,
    ],
    ['temperature scaling / Mix-n-Match', 'fitted on the validation split', 'paper: on hold-out validation data'],
    [
      'shift',
      `${p.corruptions.length} corruptions defined for 1-channel images × severities ${p.severities.join(', ')}`,
      'paper: CIFAR-10-C; frost and the colour-only corruptions do not apply',
    ],
    ['OOD', `${p.ood} test images`, 'paper: CIFAR-100 for CIFAR-10'],
    ['ECE', `${p.bins} equal-width bins`, '† bins not given'],
  ];
  md.push(table(['setting', 'value', 'source'], hp, 'text'));
}

function vanillaSection(ctx: Ctx): void {
  const { md, figures, checks } = ctx;
  md.push('', '## 1. The vanilla model fits its training set and is over-confident', '');
  const van = ctx.rows('vanilla');
  if (!van.length) {
    md.push('No finished vanilla run.');
    checks.push(
      { text: 'the vanilla model fits its training set', result: 'not measured', evidence: 'no vanilla run' },
      { text: 'the vanilla model is over-confident on clean test data', result: 'not measured', evidence: '–' },
    );
    return;
  }
  const lastTrain = (r: Summary) => r.epochs.filter((e) => e.member === 0).at(-1)?.trainAccuracy;
  const running = statOf(van.map(lastTrain));
  // the final model re-evaluated on its training split (summaries from before this field: the running mean)
  const fit = statOf(van.map((r) => r.train?.accuracy));
  const tr = fit ?? running;
  const gaps = van.map((r) => r.final.confidence - r.final.accuracy);
  const gap = statOf(gaps);
  md.push(
    table(
      ['', 'value'],
      [
        ...(fit ? [['training accuracy of the final model (inference mode)', pct(fit)]] : []),
        ['training accuracy, last epoch (running over its batches)', pct(running)],
        ['training NLL of the final model', formatStat(statOf(van.map((r) => r.train?.nll)), 1, 4)],
        ['test accuracy', pct(statOf(van.map((r) => r.final.accuracy)))],
        ['test mean confidence', pct(statOf(van.map((r) => r.final.confidence)))],
        ['confidence − accuracy', pct(gap)],
        ['test ECE', pct(statOf(van.map((r) => r.final.ece)))],
      ],
    ),
  );
  const E = Math.min(...van.map((r) => r.epochs.filter((e) => e.member === 0).length));
  const curve = (get: (e: Summary['epochs'][number]) => number | undefined) =>
    Array.from({ length: E }, (_, i) => {
      const s = statOf(van.map((r) => get(r.epochs.filter((e) => e.member === 0)[i])));
      return { x: i + 1, y: s?.mean ?? Number.NaN, err: s?.std ?? undefined };
    });
  figures['fig0-vanilla-training.svg'] = lineSeriesSpec({
    title: 'Vanilla: training and validation accuracy',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    series: [
      { name: 'train', points: curve((e) => e.trainAccuracy) },
      { name: 'validation', points: curve((e) => e.validation?.accuracy) },
      { name: 'val confidence', points: curve((e) => e.validation?.confidence) },
    ],
  });
  md.push('', '![vanilla training](figures/fig0-vanilla-training.svg)');
  checks.push({
    text: 'the vanilla model fits its training set (mean training accuracy ≥ 99 %)',
    result: tr ? (tr.mean >= 0.99 ? 'yes' : 'no') : 'not measured',
    evidence: `${fit ? 'final-model' : 'last-epoch running'} training accuracy ${pct(tr)}`,
  });
  const t = pairedTTest(gaps);
  checks.push({
    text: 'the vanilla model is over-confident on clean test data (confidence − accuracy > 0, t-test over seeds, p < 0.05)',
    result: t ? (t.p < ALPHA && t.mean > 0 ? 'yes' : 'no') : 'not measured',
    evidence: `confidence − accuracy ${pct(gap)}${t ? `, 95 % CI [${(100 * t.ci[0]).toFixed(2)}, ${(100 * t.ci[1]).toFixed(2)}] pp, p = ${fmtP(t.p)}` : ''}`,
  });
}

function table2Section(ctx: Ctx): void {
  const { md, sel } = ctx;
  md.push('', '## 2. Clean test calibration (paper Table 2)', '');
  const t2 = [...SINGLE, ...ENSEMBLES].map((f) => {
    const r = ctx.rows(f);
    return [
      ctx.label(f),
      String(r.length),
      pct(statOf(r.map((x) => x.final.accuracy))),
      pct(statOf(r.map((x) => x.final.ece))),
      formatStat(statOf(r.map((x) => x.final.nll)), 1, 4),
    ];
  });
  md.push(table(['method', 'runs', 'accuracy', 'ECE', 'NLL'], t2));
  if (sel)
    md.push(
      '',
      `Label-smoothing sweep (${sweepMetricLabel(sel.metric)}): ${sel.candidates.map((c) => `ε = ${c.epsilon}: ${(100 * c.ece).toFixed(2)}`).join('; ')} → ε = ${sel.epsilon}.`,
    );
  for (const f of ['adals', 'ar-adals'] as Family[]) {
    const a = selectSwept(ctx.input.experiments, f, 'method.alpha');
    if (a)
      md.push(
        '',
        `${FAMILY_LABEL[f]} α sweep (${sweepMetricLabel(a.metric)}): ${a.candidates.map((c) => `α = ${c.value}: ${(100 * c.ece).toFixed(2)}`).join('; ')} → α = ${a.value}.`,
      );
  }
  md.push(
    '',
    "The paper's Table 2 generates AR-AdaLS's robustness on the fly (its caption), so the Table 2 claims below use the on-the-fly runs; Tables 3 and 4 and Figs. 2–3 use the pre-computed ones.",
  );
  const ece = (r: Summary) => r.final.ece;
  for (const other of ['vanilla', 'temperature-scaling', 'label-smoothing', 'adals', 'ccat'] as Family[])
    ctx.claims.push(
      compareClaim(ctx, {
        text: `clean ECE: AR-AdaLS (on-the-fly) < ${ctx.label(other)}`,
        source: 'Table 2',
        a: 'ar-adals-otf',
        b: other,
        get: ece,
        expect: 'negative',
        format: PP,
      }),
    );
  ctx.claims.push(
    compareClaim(ctx, {
      text: 'clean ECE: label smoothing < vanilla',
      source: 'Table 2',
      a: 'label-smoothing',
      b: 'vanilla',
      get: ece,
      expect: 'negative',
      format: PP,
    }),
    equivalenceClaim(ctx, 'ar-adals-otf', '§5.2 ("without significant change in accuracy")'),
  );
}

/** Test accuracy unchanged within ±ACCURACY_MARGIN against vanilla, paired by seed. */
function equivalenceClaim(ctx: Ctx, f: Family, source: string): Claim {
  const pr = paired(ctx, f, 'vanilla', (r) => r.final.accuracy);
  return {
    text: `accuracy: ${ctx.label(f)} within ±${(100 * ACCURACY_MARGIN).toFixed(0)} pp of vanilla`,
    source,
    seeds: pr.seeds,
    test: { kind: 'equivalence', margin: ACCURACY_MARGIN, diffs: pr.diffs },
    format: PP,
    evidence: `${ctx.label(f)} ${strip(meanText(pr.a, PP))} vs Vanilla ${strip(meanText(pr.b, PP))}`,
    note: 'two one-sided tests against the margin',
  };
}

function subsetSection(ctx: Ctx): void {
  const { md, figures } = ctx;
  md.push('', '## 3. Accuracy, confidence and ECE by adversarial-robustness subset (paper Figs. 1 and 2)', '');
  md.push(
    `Subset 1 holds the least robust 1/${ctx.p.robustnessSubsets} of the test set (smallest ${ctx.p.attack.attack} perturbation on the vanilla reference of the same seed), subset R the most robust. Error bars: ± one standard deviation over seeds.`,
    '',
  );
  const fams: Family[] = ['vanilla', 'label-smoothing', 'ar-adals'];
  for (const f of fams) {
    const r = ctx.rows(f);
    if (!r.some((x) => x.bySubset.length)) continue;
    const key = f === 'vanilla' ? 'fig1' : f === 'label-smoothing' ? 'fig2a' : 'fig2b';
    figures[`${key}-${f}-acc-conf.svg`] = lineSeriesSpec({
      title: `${ctx.label(f)}: accuracy and confidence by robustness subset`,
      xLabel: 'adversarial robustness subset (1 = least robust)',
      yLabel: 'fraction',
      series: [
        { name: 'accuracy', points: bySubsetSeries(r, 'acc') },
        { name: 'confidence', points: bySubsetSeries(r, 'conf') },
      ],
    });
    md.push(`![${ctx.label(f)} by subset](figures/${key}-${f}-acc-conf.svg)`, '');
  }
  const eceSeries = fams
    .map((f) => ({ name: ctx.label(f), points: bySubsetSeries(ctx.rows(f), 'ece') }))
    .filter((s) => s.points.length);
  if (eceSeries.length) {
    figures['fig2c-ece-by-subset.svg'] = lineSeriesSpec({
      title: 'ECE by robustness subset',
      xLabel: 'adversarial robustness subset (1 = least robust)',
      yLabel: 'ECE',
      series: eceSeries,
    });
    md.push('![ECE by subset](figures/fig2c-ece-by-subset.svg)', '');
    const R = Math.max(...eceSeries.map((s) => s.points.length));
    md.push(
      table(
        ['subset', ...fams.flatMap((f) => [`${ctx.label(f)} acc`, 'conf', 'ECE'])],
        Array.from({ length: R }, (_, i) => [
          String(i + 1),
          ...fams.flatMap((f) => {
            const r = ctx.rows(f).filter((x) => x.bySubset.length > i);
            return (['acc', 'conf', 'ece'] as const).map((k) => pct(statOf(r.map((x) => x.bySubset[i][k])), 1));
          }),
        ]),
      ),
    );
  }
  const fig1 = 'Fig. 1, §3.1';
  ctx.claims.push(
    trendClaim(ctx, {
      text: 'vanilla: accuracy rises with adversarial robustness',
      source: fig1,
      f: 'vanilla',
      field: 'acc',
      expect: 'positive',
      format: PP_PER_SUBSET,
    }),
    trendClaim(ctx, {
      text: 'vanilla: confidence rises with adversarial robustness',
      source: fig1,
      f: 'vanilla',
      field: 'conf',
      expect: 'positive',
      format: PP_PER_SUBSET,
    }),
    confidenceAboveAccuracyClaim(ctx),
    trendClaim(ctx, {
      text: 'vanilla: ECE falls with adversarial robustness',
      source: fig1,
      f: 'vanilla',
      field: 'ece',
      expect: 'negative',
      format: PP_PER_SUBSET,
    }),
  );
  // Fig. 2c: per seed, the mean ECE of the least robust subsets (equal-sized, so the mean is the pooled one)
  const k = LEAST_ROBUST_SUBSETS;
  const lowEce = (r: Summary) =>
    r.bySubset.length >= k && r.bySubset.slice(0, k).every((b) => finite(b.ece))
      ? mean(r.bySubset.slice(0, k).map((b) => b.ece))
      : undefined;
  ctx.claims.push(
    compareClaim(ctx, {
      text: `ECE in the ${k} least robust subsets: AR-AdaLS < label smoothing`,
      source: 'Fig. 2c, §5.1',
      a: 'ar-adals',
      b: 'label-smoothing',
      get: lowEce,
      expect: 'negative',
      format: PP,
      aName: 'AR-AdaLS',
      bName: 'LS',
      note: `mean ECE of subsets 1–${k}`,
    }),
  );
}

/**
 * Fig. 1's "confidence is consistently higher than accuracy in each subset", per subset over seeds. A subset
 * at 100 % accuracy in a seed is left out for that seed: confidence cannot exceed 100 %, so it says nothing.
 */
function confidenceAboveAccuracyClaim(ctx: Ctx): Claim {
  const rs = ctx.rows('vanilla').filter((r) => r.bySubset.length);
  const R = rs.length ? Math.min(...rs.map((r) => r.bySubset.length)) : 0;
  let skipped = 0;
  const parts = Array.from({ length: R }, (_, i) => {
    const diffs: number[] = [];
    for (const r of rs) {
      const b = r.bySubset[i];
      if (b.acc >= 1) skipped++;
      else diffs.push(b.conf - b.acc);
    }
    return { label: `subset ${i + 1}`, diffs };
  });
  return {
    text: 'vanilla: confidence > accuracy in every robustness subset',
    source: 'Fig. 1, §3.1',
    seeds: rs.map((r) => r.seed),
    test: { kind: 'every', expect: 'positive', parts },
    format: PP,
    evidence: `${R} subsets × ${rs.length} seeds; ${skipped} subset-seed cell(s) at 100 % accuracy left out`,
    note: 'each subset tested over seeds; holds only if every subset does',
  };
}

function subsetVarianceSection(ctx: Ctx): void {
  const { md, p } = ctx;
  const varFams: Family[] = ['ens-vanilla', 'ens-label-smoothing', 'ens-ar-adals'];
  const short = (f: Family) => ctx.label(f).replace('Ensemble of ', '');
  const subsetVar = varFams
    .map((f) => ({ f, name: short(f), points: bySubsetSeries(ctx.rows(f), 'variance') }))
    .filter((s) => s.points.length);
  md.push('', '### Variance by robustness subset (paper Figs. 1 and 2d)', '');
  if (subsetVar.length) {
    md.push(
      `σ² of the predicted probability across the M = ${p.members} independently seeded members of an ensemble run of each method (σ² as in the paper's §3, over each subset's test examples), mean over the ensemble seeds.`,
      '',
    );
    ctx.figures['fig2d-variance-by-subset.svg'] = lineSeriesSpec({
      title: 'Variance across independent runs by robustness subset',
      xLabel: 'adversarial robustness subset (1 = least robust)',
      yLabel: 'σ²',
      series: subsetVar.map(({ name, points }) => ({ name, points })),
    });
    md.push('![variance by subset](figures/fig2d-variance-by-subset.svg)', '');
    const R = Math.min(...subsetVar.map((s) => s.points.length));
    md.push(
      table(
        ['subset', ...subsetVar.map((s) => s.name)],
        Array.from({ length: R }, (_, i) => [String(i + 1), ...subsetVar.map((s) => s.points[i].y.toExponential(2))]),
      ),
    );
  } else md.push('No ensemble run with per-subset variance (needs M ≥ 2 and robustness subsets).');
  ctx.claims.push(
    trendClaim(ctx, {
      text: 'vanilla: variance across runs falls with adversarial robustness',
      source: 'Fig. 1, §3.1',
      f: 'ens-vanilla',
      field: 'variance',
      expect: 'negative',
      format: EXP_PER_SUBSET,
    }),
  );
  for (const other of ['ens-vanilla', 'ens-label-smoothing'] as Family[]) {
    ctx.claims.push(
      compareClaim(ctx, {
        text: `clean variance: AR-AdaLS < ${short(other)}`,
        source: 'Fig. 2d, Fig. 3',
        a: 'ens-ar-adals',
        b: other,
        get: (r) => r.variance,
        expect: 'negative',
        format: EXP,
        aName: 'AR-AdaLS',
        bName: short(other),
        note: 'σ² over the whole test set',
      }),
    );
  }
  for (const other of ['ens-vanilla', 'ens-label-smoothing'] as Family[]) {
    const A = ctx.rows('ens-ar-adals');
    const B = new Map(ctx.rows(other).map((r) => [r.seed, r]));
    const pairs = A.filter((a) => B.has(a.seed) && a.bySubset.length && B.get(a.seed)!.bySubset.length);
    const R = pairs.length
      ? Math.min(...pairs.map((a) => Math.min(a.bySubset.length, B.get(a.seed)!.bySubset.length)))
      : 0;
    const parts = Array.from({ length: R }, (_, i) => ({
      label: `subset ${i + 1}`,
      diffs: pairs
        .map((a) => (a.bySubset[i].variance ?? Number.NaN) - (B.get(a.seed)!.bySubset[i].variance ?? Number.NaN))
        .filter(Number.isFinite),
    }));
    ctx.claims.push({
      text: `variance in every robustness subset: AR-AdaLS < ${short(other)}`,
      source: 'Fig. 2d, §5.1',
      seeds: pairs.map((a) => a.seed),
      test: { kind: 'every', expect: 'negative', parts },
      format: EXP,
      evidence: `${R} subsets × ${pairs.length} seeds`,
      note: 'each subset tested over seeds; holds only if every subset does',
    });
  }
}

function table3Section(ctx: Ctx): void {
  const { md, p } = ctx;
  md.push('', '## 4. ECE under corruption, mean over corruption types per severity (paper Table 3)', '');
  const t3 = [...SINGLE, ...ENSEMBLES].map((f) => {
    const r = ctx.rows(f).filter((x) => x.shift);
    const bySev = p.severities.map((sv) =>
      pct(statOf(r.map((x) => x.shift!.meanEceBySeverity.find((m) => m.severity === sv)?.meanEce)), 1),
    );
    return [ctx.label(f), ...bySev, pct(statOf(r.map((x) => shiftMean(x, 'ece'))), 1)];
  });
  md.push(table(['method', ...p.severities.map((s) => `severity ${s}`), 'all'], t3));
  const sEce = (r: Summary) => shiftMean(r, 'ece');
  for (const other of ['vanilla', 'label-smoothing', 'adals'] as Family[])
    ctx.claims.push(
      compareClaim(ctx, {
        text: `shift ECE: AR-AdaLS < ${ctx.label(other)}`,
        source: other === 'label-smoothing' ? 'Table 3, Table 4' : 'Table 3',
        a: 'ar-adals',
        b: other,
        get: sEce,
        expect: 'negative',
        format: PP,
      }),
    );
  for (const other of ['ens-vanilla', 'ens-label-smoothing', 'ens-adals', 'ens-ar-adals'] as Family[])
    ctx.claims.push(
      compareClaim(ctx, {
        text: `shift ECE: AR-AdaLS of Ensemble < ${ctx.label(other)}`,
        source: 'Table 3, §5.3',
        a: 'ar-adals-of-ensemble',
        b: other,
        get: sEce,
        expect: 'negative',
        format: PP,
      }),
    );
}

function fig3Section(ctx: Ctx): void {
  const { md, p } = ctx;
  md.push('', '## 5. Variance of independent runs under shift (paper Fig. 3)', '');
  md.push(
    `σ² of the predicted probabilities across the M = ${p.members} independently trained members of each ensemble run ("clean" = the clean test set), mean over the ensemble seeds; boxes: quartiles across corruption types, whiskers: min and max.`,
    '',
  );
  const fams: Family[] = ['ens-vanilla', 'ens-label-smoothing', 'ens-ar-adals'];
  const cats = ['clean', ...p.severities.map(String)];
  const short = (f: Family) => ctx.label(f).replace('Ensemble of ', '');
  const varSeries = fams
    .map((f) => {
      const rs = ctx.rows(f);
      if (!rs.length) return undefined;
      const perCorruption = (sv: number) => {
        const names = [...new Set(rs.flatMap((r) => (r.shift?.rows ?? []).map((x) => x.corruption)))];
        return names
          .map((c) =>
            statOf(rs.map((r) => r.shift?.rows.find((x) => x.corruption === c && x.severity === sv)?.variance)),
          )
          .filter((s): s is Stat => s !== undefined)
          .map((s) => s.mean);
      };
      const clean = statOf(rs.map((r) => r.variance));
      return { name: short(f), values: [clean ? [clean.mean] : [], ...p.severities.map(perCorruption)] };
    })
    .filter((s): s is { name: string; values: number[][] } => s?.values.some((v) => v.length) === true);
  if (varSeries.length) {
    ctx.figures['fig3-variance-shift.svg'] = boxPlotSpec({
      title: 'Variance across independent runs',
      xLabel: 'shift severity',
      yLabel: 'σ²',
      categories: cats,
      series: varSeries,
    });
    md.push('![variance under shift](figures/fig3-variance-shift.svg)', '');
    md.push(
      table(
        ['method', ...cats],
        varSeries.map((s) => [s.name, ...s.values.map((v) => (v.length ? meanStd(v).mean.toExponential(2) : '–'))]),
      ),
    );
  } else md.push('No ensemble run with shift results.');
  for (const other of ['ens-vanilla', 'ens-label-smoothing'] as Family[])
    ctx.claims.push(
      compareClaim(ctx, {
        text: `variance under shift: AR-AdaLS < ${short(other)}`,
        source: 'Fig. 3, §5.4',
        a: 'ens-ar-adals',
        b: other,
        get: (r) => shiftMean(r, 'variance'),
        expect: 'negative',
        format: EXP,
        aName: 'AR-AdaLS',
        bName: short(other),
        note: 'mean σ² over every corruption × severity',
      }),
    );
}

function table4Section(ctx: Ctx): void {
  const { md } = ctx;
  md.push('', '## 6. Pre-computed vs on-the-fly robustness (paper Table 4)', '');
  const fams: Family[] = ['vanilla', 'label-smoothing', 'temperature-scaling', 'ar-adals', 'ar-adals-otf'];
  const t4Label = (f: Family) => (f === 'ar-adals' ? 'AR-AdaLS (pre-compute)' : ctx.label(f));
  const both = (f: Family, clean: (r: Summary) => number, key: 'accuracy' | 'ece', digits: number) =>
    `${pct(statOf(ctx.rows(f).map(clean)), digits)} / ${pct(statOf(ctx.rows(f).map((x) => shiftMean(x, key))), digits)}`;
  md.push(
    table(
      ['', ...fams.map(t4Label)],
      [
        ['Acc / cAcc', ...fams.map((f) => both(f, (x) => x.final.accuracy, 'accuracy', 1))],
        ['ECE / cECE', ...fams.map((f) => both(f, (x) => x.final.ece, 'ece', 2))],
        [
          'minutes per run',
          ...fams.map((f) => formatStat(statOf(ctx.rows(f).map((x) => x.timings.totalSeconds / 60)), 1, 1)),
        ],
      ],
    ),
  );
  md.push('', 'cAcc and cECE: mean over every corruption × severity.');
  const ece = (r: Summary) => r.final.ece;
  const sEce = (r: Summary) => shiftMean(r, 'ece');
  ctx.claims.push(
    compareClaim(ctx, {
      text: 'clean ECE: pre-computed AR-AdaLS < label smoothing',
      source: 'Table 4, §5.6',
      a: 'ar-adals',
      b: 'label-smoothing',
      get: ece,
      expect: 'negative',
      format: PP,
      aName: 'pre-compute',
      bName: 'LS',
    }),
    compareClaim(ctx, {
      text: 'clean ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS',
      source: 'Table 4, §5.6',
      a: 'ar-adals-otf',
      b: 'ar-adals',
      get: ece,
      expect: 'negative',
      format: PP,
      aName: 'on-the-fly',
      bName: 'pre-compute',
    }),
    compareClaim(ctx, {
      text: 'shift ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS',
      source: 'Table 4, §5.6',
      a: 'ar-adals-otf',
      b: 'ar-adals',
      get: sEce,
      expect: 'negative',
      format: PP,
      aName: 'on-the-fly',
      bName: 'pre-compute',
    }),
    equivalenceClaim(ctx, 'ar-adals', 'Table 4'),
  );
}

function oodSection(ctx: Ctx): void {
  const { md, p } = ctx;
  md.push('', `## 7. Out-of-distribution data: ${p.ood} (paper Fig. 4)`, '');
  const fams: Family[] = ['vanilla', 'label-smoothing', 'mixup', 'ar-adals', 'ar-adals-otf'];
  const histSeries = fams
    .map((f) => {
      const hs = ctx
        .rows(f)
        .map(oodOf)
        .filter((o): o is OodSection => o !== undefined);
      if (!hs.length) return undefined;
      const nb = hs[0].histogramOut.density.length;
      return {
        name: ctx.label(f),
        edges: hs[0].histogramOut.edges,
        values: Array.from({ length: nb }, (_, b) => hs.reduce((s, h) => s + h.histogramOut.density[b], 0) / hs.length),
      };
    })
    .filter((s): s is { name: string; edges: number[]; values: number[] } => s !== undefined);
  if (histSeries.length) {
    ctx.figures['fig4-ood-entropy.svg'] = stepHistogramSpec({
      title: `Predictive entropy on ${p.ood} (OOD)`,
      xLabel: 'entropy (nats)',
      yLabel: 'density (mean over seeds)',
      edges: histSeries[0].edges,
      series: histSeries,
    });
    md.push('![OOD entropy](figures/fig4-ood-entropy.svg)', '');
  }
  const of = (f: Family, get: (o: OodSection) => number) =>
    formatStat(statOf(ctx.rows(f).map((x) => (oodOf(x) ? get(oodOf(x)!) : undefined))), 1, 3);
  md.push(
    table(
      ['method', 'AUROC (entropy)', 'AUROC (max prob.)', 'mean OOD entropy'],
      [...SINGLE, ...ENSEMBLES].map((f) => [
        ctx.label(f),
        of(f, (o) => o.aurocEntropy),
        of(f, (o) => o.aurocMaxProb),
        of(f, (o) => o.meanEntropyOut),
      ]),
    ),
  );
  md.push(
    '',
    "The paper's Fig. 4 generates AR-AdaLS's robustness on the fly (its caption); the claims use those runs.",
  );
  for (const other of ['label-smoothing', 'mixup'] as Family[])
    ctx.claims.push(
      compareClaim(ctx, {
        text: `OOD AUROC: AR-AdaLS (on-the-fly) > ${ctx.label(other)}`,
        source: 'Fig. 4, §5.5',
        a: 'ar-adals-otf',
        b: other,
        get: (r) => oodOf(r)?.aurocEntropy,
        expect: 'positive',
        format: AUROC,
      }),
    );
}

function rSweepSection(ctx: Ctx): void {
  const { md, p, input } = ctx;
  md.push('', '## 8. Sensitivity to the number of robustness subsets R (paper Fig. 5)', '');
  /** Summaries at R, seeds of the sweep only (R = 1 is AdaLS, R = subsets the AR-AdaLS runs). */
  // the sweep runs at AR-AdaLS's α, so R = 1 is AdaLS at that α (which the α sweep ran), not AdaLS's own best
  const atAlpha = (x: Finished) =>
    !('method.alpha' in x.planned.config) || x.planned.config['method.alpha'] === ctx.alpha.arAdals;
  const atR = (R: number) =>
    done(input.experiments)
      .filter(
        (x) =>
          (x.planned.family === 'r-sweep' && x.planned.config['method.subsets'] === R) ||
          (R === 1 && x.planned.family === 'adals' && atAlpha(x)) ||
          (R === p.subsets && x.planned.family === 'ar-adals' && atAlpha(x)),
      )
      .filter((x) => p.rSeeds.includes(x.planned.seed))
      .map((x) => x.summary);
  const rPoints = (get: (r: Summary) => number | undefined) =>
    p.rValues.map((R) => {
      const s = statOf(atR(R).map(get));
      return { x: R, y: s?.mean ?? Number.NaN, err: s?.std ?? undefined };
    });
  const cleanEce = (r: Summary) => r.final.ece;
  const shiftEce = (r: Summary) => shiftMean(r, 'ece');
  ctx.figures['fig5-ece-vs-r.svg'] = lineSeriesSpec({
    title: 'AR-AdaLS: ECE vs number of subsets R (R = 1 is AdaLS)',
    xLabel: 'R',
    yLabel: 'ECE',
    series: [
      { name: 'clean', points: rPoints(cleanEce) },
      { name: 'corrupted (mean)', points: rPoints(shiftEce) },
    ],
  });
  md.push('![ECE vs R](figures/fig5-ece-vs-r.svg)', '');
  md.push(
    table(
      ['R', 'runs', 'clean ECE', 'corrupted ECE'],
      p.rValues.map((R) => [
        String(R),
        String(atR(R).length),
        pct(statOf(atR(R).map(cleanEce))),
        pct(statOf(atR(R).map(shiftEce))),
      ]),
    ),
  );
  md.push(
    '',
    `Seeds ${p.rSeeds.join(', ')} at every R (R = 1 and R = ${p.subsets} reuse the AdaLS and AR-AdaLS runs of those seeds).`,
  );
  // per seed: the mean over every swept R > 1 against R = 1, so the claim uses the whole curve, not one point
  const larger = p.rValues.filter((R) => R > 1);
  for (const [name, get] of [
    ['clean', cleanEce],
    ['shift', shiftEce],
  ] as const) {
    const seeds: number[] = [];
    const diffs: number[] = [];
    const ones: number[] = [];
    const rest: number[] = [];
    for (const seed of p.rSeeds) {
      const r1 = atR(1).find((r) => r.seed === seed);
      const one = r1 ? get(r1) : undefined;
      const vals = larger.map((R) => {
        const r = atR(R).find((x) => x.seed === seed);
        return r ? get(r) : undefined;
      });
      if (!finite(one) || !vals.every(finite)) continue;
      const m = mean(vals as number[]);
      seeds.push(seed);
      diffs.push(m - one);
      ones.push(one);
      rest.push(m);
    }
    ctx.claims.push({
      text: `${name} ECE falls from R = 1 (AdaLS) to R > 1`,
      source: 'Fig. 5, §5.6',
      seeds,
      test: { kind: 'difference', expect: 'negative', diffs },
      format: PP,
      evidence: `mean over R ∈ {${larger.join(', ')}} ${strip(meanText(rest, PP))} vs R = 1 ${strip(meanText(ones, PP))}`,
      note: 'per seed, mean ECE over the swept R > 1 minus ECE at R = 1',
    });
  }
}

/** The soft labels' trajectory: p̃ of the correct class per subset after each epoch (Eq. 3), AR-AdaLS runs. */
function softLabelSection(ctx: Ctx): void {
  const { md } = ctx;
  md.push('', '## 9. Soft labels during training (paper Algorithm 1, Eq. 3)', '');
  const rs = ctx.rows('ar-adals');
  const traj = rs.map((r) => r.epochs.filter((e) => e.member === 0 && e.softLabels));
  const E = traj.length ? Math.min(...traj.map((t) => t.length)) : 0;
  if (!E) {
    md.push('No AR-AdaLS run with soft-label records.');
    return;
  }
  const R = Math.min(...traj.map((t) => t[0].softLabels!.pTrue.length));
  const at = (i: number, get: (s: NonNullable<Summary['epochs'][number]['softLabels']>) => number) =>
    statOf(traj.map((t) => get(t[i].softLabels!)));
  ctx.figures['fig6-soft-labels.svg'] = lineSeriesSpec({
    title: 'AR-AdaLS: soft label of the correct class per subset',
    xLabel: 'epoch',
    yLabel: 'p̃ (correct class)',
    series: Array.from({ length: R }, (_, r) => ({
      name: `subset ${r + 1}`,
      points: Array.from({ length: E }, (_, i) => ({ x: traj[0][i].epoch, y: at(i, (s) => s.pTrue[r])!.mean })),
    })),
  });
  md.push(
    `Mean over ${rs.length} seed(s) of p̃ after each epoch's update, from the validation subsets' confidence − accuracy (Eq. 3; subset 1 = least robust).`,
    '',
    '![soft labels](figures/fig6-soft-labels.svg)',
    '',
  );
  const last = E - 1;
  md.push(
    table(
      ['subset', 'final p̃', 'final ε', 'validation conf (last epoch)', 'validation acc (last epoch)'],
      Array.from({ length: R }, (_, r) => [
        String(r + 1),
        formatStat(
          at(last, (s) => s.pTrue[r]),
          1,
          4,
        ),
        formatStat(
          at(last, (s) => s.epsilon[r]),
          1,
          4,
        ),
        pct(
          at(last, (s) => s.valConf[r]),
          1,
        ),
        pct(
          at(last, (s) => s.valAcc[r]),
          1,
        ),
      ]),
    ),
  );
}

/** p-values: two significant digits; 0 only where every pair differs by the same amount (no spread to test). */
const fmtP = (p: number | undefined) =>
  p === undefined ? '–' : p === 0 ? '0' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);

function verdictSection(ctx: Ctx): Judged[] {
  const { md, p } = ctx;
  md.push('', "## 10. Do the paper's claims hold here?", '');
  const judged = judgeClaims(ctx.claims);
  const tested = judged.filter((j) => j.p !== undefined).length;
  md.push(
    `Each claim is judged on paired per-seed differences (the same seed means the same data split and the same vanilla reference model, hence the same robustness subsets): a two-sided paired t-test of a zero mean difference, with Holm's correction across the ${tested} claims that have at least two pairs, at a family-wise level of ${ALPHA}. ` +
      '**holds**: the Holm-adjusted p is below it and the difference has the sign the paper states; **reversed**: below it with the opposite sign; **inconclusive**: not below it (or fewer than two pairs). ' +
      `"Within ±${(100 * ACCURACY_MARGIN).toFixed(0)} pp" is an equivalence statement (the paper's "no significant change in accuracy"): it holds when two one-sided t-tests show the paired accuracy change lies inside ±${(100 * ACCURACY_MARGIN).toFixed(0)} percentage points, and is reversed when a change beyond the margin is significant. ` +
      '"In every subset" claims test each subset over seeds: they hold only when every subset is significant in the stated direction (the weakest subset\'s p is shown) and are reversed when a subset is significant the other way (its p times the number of subsets). ' +
      '"Rises/falls with robustness" claims test the per-seed least-squares slope across the subsets.',
    '',
    `Seeds per comparison: ${p.seeds.length} for single models, ${p.ensembleSeeds.length} for each ensemble, ${p.rSeeds.length} for the R sweep (the "pairs" column gives each claim's count). ` +
      `With n pairs the 95 % interval is ±t₀.₉₇₅(n − 1)·se: ${[
        ...new Set([p.seeds.length, p.ensembleSeeds.length, p.rSeeds.length, 3]),
      ]
        .filter((n) => n >= 2)
        .sort((a, b) => b - a)
        .map((n) => `t₀.₉₇₅(${n - 1}) = ${studentTQuantile(0.975, n - 1).toFixed(2)} at ${n} seeds`)
        .join(', ')}. ` +
      `With the Holm correction over ${tested} claims on top, a claim resting on 3 seeds (the ensembles, the R sweep) is inconclusive unless its effect is many times the seed-to-seed spread, so expect many of those to be inconclusive; a claim with fewer than two seeds cannot be tested at all. Inconclusive means "not shown here", not "false".`,
    '',
  );
  md.push(
    table(
      ['claim', 'paper', 'pairs', 'mean difference [95 % CI]', 'p', 'Holm p', 'here', 'numbers'],
      judged.map((j) => [
        j.text,
        j.source,
        String(j.n),
        j.stat
          ? `${j.format(j.stat.mean)} [${strip(j.format(j.stat.ci[0]))}, ${strip(j.format(j.stat.ci[1]))}]${j.part ? ` (${j.part})` : ''}`
          : '–',
        fmtP(j.p),
        fmtP(j.pHolm),
        j.verdict === 'holds' ? 'holds' : j.verdict === 'reversed' ? '**reversed**' : 'inconclusive',
        `${j.evidence}${j.note ? `; ${j.note}` : ''}`,
      ]),
      'text',
    ),
  );
  const count = (v: Judged['verdict']) => judged.filter((j) => j.verdict === v).length;
  md.push(
    '',
    `${count('holds')} of ${judged.length} claims hold, ${count('reversed')} are reversed, ${count('inconclusive')} are inconclusive.`,
  );
  md.push('', '### Set-up checks (not claims; not counted above)', '');
  md.push(
    table(
      ['check', 'here', 'numbers'],
      ctx.checks.map((c) => [c.text, c.result, c.evidence]),
      'text',
    ),
  );
  return judged;
}

function leftOutSection(ctx: Ctx): void {
  ctx.md.push('', '## Left out', '');
  ctx.md.push(
    [
      '- CIFAR-10/100 and ImageNet: this reproduction runs on 28×28 grey images with the networks above; colour-only corruptions (saturate) and frost do not apply.',
      '- Mix-n-Match here is fitted by arcal on the validation split (the paper copies a published number).',
      '- "ECE is relatively stable for R in [10, 16]" (Fig. 5) is shown in the table of §8 but not judged.',
    ].join('\n'),
  );
}

export function buildResults(input: ResultsInput): {
  markdown: string;
  figures: Record<string, ChartSpec>;
  verdicts: Judged[];
} {
  const sel = selectLsEpsilon(input.experiments);
  const lsEps = sel?.epsilon;
  const alpha = alphasOf(input.preset, chooseSwept(input.experiments, input.preset));
  /** Outside the sweeps a row holds the chosen ε / α only. */
  const inRow = (f: Family, config: Record<string, unknown>) =>
    f === 'label-smoothing'
      ? config['method.epsilon'] === lsEps
      : f === 'adals' && 'method.alpha' in config
        ? config['method.alpha'] === alpha.adals
        : f === 'ar-adals' && 'method.alpha' in config
          ? config['method.alpha'] === alpha.arAdals
          : true;
  const finished = done(input.experiments);
  const ctx: Ctx = {
    input,
    p: input.preset,
    sel,
    lsEps,
    alpha,
    md: [],
    figures: {},
    claims: [],
    checks: [],
    rows: (f) =>
      finished
        .filter((x) => x.planned.family === f && inRow(f, x.planned.config))
        .map((x) => x.summary)
        .sort((a, b) => a.seed - b.seed),
    label: (f) =>
      f === 'label-smoothing' && lsEps !== undefined
        ? `Label Smoothing (ε = ${lsEps})`
        : f === 'ens-label-smoothing' && lsEps !== undefined
          ? `Ensemble of LS (ε = ${lsEps})`
          : FAMILY_LABEL[f],
  };
  headerSection(ctx);
  setupSection(ctx);
  vanillaSection(ctx);
  table2Section(ctx);
  subsetSection(ctx);
  subsetVarianceSection(ctx);
  table3Section(ctx);
  fig3Section(ctx);
  table4Section(ctx);
  oodSection(ctx);
  rSweepSection(ctx);
  softLabelSection(ctx);
  const verdicts = verdictSection(ctx);
  leftOutSection(ctx);
  return { markdown: `${ctx.md.join('\n')}\n`, figures: ctx.figures, verdicts };
}

export { ENSEMBLES, SINGLE };

/** The figures as SVG documents, rendered as `arcal report --figures` renders its charts. */
export async function figuresToSvg(figures: Record<string, ChartSpec>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(figures)) out[name] = await chartToSvg(spec);
  return out;
}
