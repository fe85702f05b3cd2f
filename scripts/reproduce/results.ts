/**
 * docs/RESULTS.md and its SVG figures from the reports of a reproduction run. Pure: reports in, markdown and
 * SVG strings out, so it can be checked on fabricated reports.
 */
import type { ExperimentReport, SubsetRow } from '@arcal/contracts';
import { aggregateStudy, formatStat, meanStd, type Stat, selectBest } from '../../packages/core/src/study/index.ts';
import { FAMILY_LABEL, type Family, type PlannedExperiment, type Preset } from './plan.ts';
import { boxPlot, histogramChart, lineChart } from './svg.ts';

export interface Finished {
  planned: PlannedExperiment;
  report?: ExperimentReport;
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
}

interface ShiftSection {
  rows: Array<{ corruption: string; severity: number; accuracy: number; ece: number; nll: number; variance?: number }>;
  meanEceBySeverity: Array<{ severity: number; meanEce: number; corruptions: number }>;
}
interface OodSection {
  aurocEntropy: number;
  aurocMaxProb: number;
  meanEntropyOut: number;
  histogramOut: { edges: number[]; counts: number[]; density: number[] };
}

const done = (xs: Finished[]) => xs.filter((x): x is Finished & { report: ExperimentReport } => x.report !== undefined);
const finite = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const statOf = (vals: Array<number | undefined>): Stat | undefined => {
  const v = vals.filter(finite);
  return v.length ? meanStd(v) : undefined;
};
const pct = (s: Stat | undefined, digits = 2) => formatStat(s, 100, digits);

/** The ε of the label-smoothing sweep with the lowest mean validation ECE over seeds (the paper's rule). */
export function selectLsEpsilon(
  experiments: Finished[],
): { epsilon: number; candidates: Array<{ epsilon: number; valEce: number }> } | undefined {
  const ls = done(experiments).filter((x) => x.planned.family === 'label-smoothing');
  if (!ls.length) return undefined;
  const configs = aggregateStudy(
    ls.map((x) => ({
      experiment: {
        name: x.planned.dir,
        slug: x.planned.dir,
        config: x.planned.config,
        configKey: JSON.stringify(x.planned.config),
        seed: x.planned.seed,
        spec: x.planned.spec,
      },
      report: x.report,
    })),
  );
  const sel = selectBest(configs, { metric: 'validation.ece' });
  const best = sel.groups[0]?.best;
  if (!best) return undefined;
  return {
    epsilon: (best.value as Record<string, number>)['method.epsilon'],
    candidates: sel.groups[0].candidates.map((c) => ({
      epsilon: (c.value as Record<string, number>)['method.epsilon'],
      valEce: c.score,
    })),
  };
}

/** Finished reports of a row of the tables (for LS: only the selected ε). */
function rowReports(input: ResultsInput, family: Family, lsEps?: number): ExperimentReport[] {
  return done(input.experiments)
    .filter(
      (x) =>
        x.planned.family === family && (family !== 'label-smoothing' || x.planned.config['method.epsilon'] === lsEps),
    )
    .map((x) => x.report);
}

const SINGLE: Family[] = [
  'vanilla',
  'temperature-scaling',
  'label-smoothing',
  'adals',
  'ar-adals',
  'mixup',
  'ccat',
  'mix-n-match',
];
const ENSEMBLES: Family[] = ['ens-vanilla', 'ens-label-smoothing', 'ens-adals', 'ens-ar-adals', 'ar-adals-of-ensemble'];

const shiftOf = (r: ExperimentReport) => r.shift as ShiftSection | undefined;
const oodOf = (r: ExperimentReport) => r.ood as OodSection | undefined;
const shiftMean = (r: ExperimentReport, key: 'ece' | 'accuracy') => {
  const rows = shiftOf(r)?.rows ?? [];
  return rows.length ? rows.reduce((s, x) => s + x[key], 0) / rows.length : undefined;
};

function table(head: string[], rows: string[][], align: 'numbers' | 'text' = 'numbers'): string {
  const rule = head.map((_, i) => (i === 0 || align === 'text' ? ':---' : '---:')).join('|');
  return [`| ${head.join(' | ')} |`, `|${rule}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Per-subset mean ± std over reports of one field of bySubset. */
function bySubsetSeries(
  reports: ExperimentReport[],
  field: keyof Pick<SubsetRow, 'acc' | 'conf' | 'ece' | 'variance'>,
) {
  const withRows = reports.filter((r) => r.bySubset.length && r.bySubset.every((b) => finite(b[field])));
  if (!withRows.length) return [];
  const R = Math.min(...withRows.map((r) => r.bySubset.length));
  return Array.from({ length: R }, (_, i) => {
    const s = meanStd(withRows.map((r) => r.bySubset[i][field] as number));
    return { x: i + 1, y: s.mean, err: s.std ?? undefined };
  });
}

interface Claim {
  text: string;
  holds?: boolean;
  evidence: string;
}

const lt = (a: Stat | undefined, b: Stat | undefined) => (a && b ? a.mean < b.mean : undefined);
const show = (name: string, s: Stat | undefined, scale = 100) => `${name} ${formatStat(s, scale)}`;

export function buildResults(input: ResultsInput): { markdown: string; figures: Record<string, string> } {
  const p = input.preset;
  const figures: Record<string, string> = {};
  const md: string[] = [];
  const sel = selectLsEpsilon(input.experiments);
  const lsEps = sel?.epsilon;
  const rows = (f: Family) => rowReports(input, f, lsEps);
  const label = (f: Family) =>
    f === 'label-smoothing' && lsEps !== undefined
      ? `Label Smoothing (ε = ${lsEps})`
      : f === 'ens-label-smoothing' && lsEps !== undefined
        ? `Ensemble of LS (ε = ${lsEps})`
        : FAMILY_LABEL[f];
  const finished = done(input.experiments);
  const failed = input.experiments.filter((x) => x.error);
  const totalSeconds = finished.reduce((s, x) => s + x.report.timings.totalSeconds, 0);
  const claims: Claim[] = [];

  md.push(
    `# Reproduction of the AR-AdaLS comparison on ${p.dataset.name === 'fashion-mnist' ? 'Fashion-MNIST' : p.dataset.name} (preset \`${p.name}\`)`,
  );
  md.push('');
  md.push(
    `Generated ${input.generatedAt} by \`npm run reproduce -- --preset ${p.name}\`. ${finished.length} of ${input.experiments.length} experiments finished` +
      `${failed.length ? `, ${failed.length} failed` : ''}. Compute: ${(totalSeconds / 3600).toFixed(2)} h summed over the experiments' reports ` +
      `(this invocation: ${(input.scriptSeconds / 60).toFixed(1)} min).`,
  );
  md.push('');
  md.push(
    `Machine: ${input.machine.cpu}, ${input.machine.cores} cores, ${input.machine.memoryGb.toFixed(0)} GB, ${input.machine.os}, Node ${input.machine.node}; ` +
      `tensor backend ${input.machine.backend}${input.machine.threads ? ` (${input.machine.threads} threads)` : ''}. Data: ${input.dataSource ?? p.dataset.name}.`,
  );
  md.push('');
  md.push(
    'ECE, accuracy and confidence are in %, NLL in nats. Single-model rows are mean ± sample standard deviation over seeds; ensemble rows are one run of M members (as in the paper).',
  );
  if (failed.length) {
    md.push('', '**Failed experiments:**', '', ...failed.map((x) => `- \`${x.planned.dir}\`: ${x.error}`));
  }

  // --- setup
  md.push('', '## Setup and hyperparameters', '');
  md.push(
    'Marked † where the paper does not give the value (it trains CIFAR/ImageNet networks); the note says how it was chosen.',
    '',
  );
  const hp: string[][] = [
    [
      'data',
      `${p.dataset.name}: ${p.dataset.trainLimit} training, ${p.dataset.validationSize} validation (seeded draw from the training file), first ${p.dataset.testLimit} test images`,
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
      `single models: ${p.seeds.join(', ')}; R sweep: ${p.rSeeds.join(', ')}; ensembles: seed ${p.ensembleSeed}, M = ${p.members}`,
      `paper: 4–5 runs, M = 5${p.seeds.length < 4 ? ' († fewer runs here for time)' : ''}`,
    ],
    [
      'label smoothing ε',
      `swept over {${p.lsEpsilons.join(', ')}}, selected by lowest mean validation ECE${lsEps !== undefined ? `: ε = ${lsEps}` : ''}`,
      'paper: sweep, best validation (range † not given)',
    ],
    [
      'AdaLS / AR-AdaLS',
      `α = ${p.alpha}, R = ${p.subsets}, soft labels updated after every epoch, clipped to (1/Z, 1]`,
      'paper: R = 10, update each epoch; α †',
    ],
    [
      'adversarial robustness',
      `${p.attack.attack} (${p.attack.params.steps} steps), precomputed on a vanilla reference model of the same seed and settings; on-the-fly variant re-attacks every ${p.onTheFlyEvery} epochs`,
      'paper: CW-L2; † FMN-L2 here (a minimal-L2 attack, cheaper); re-attack interval †',
    ],
    [
      'test robustness subsets',
      `${p.robustnessSubsets} subsets of the test set ranked by the vanilla reference model's robustness`,
      '† one ranking shared by all methods so subsets are comparable',
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

  // --- vanilla over-confidence
  md.push('', '## 1. The vanilla model fits its training set and is over-confident', '');
  const van = rows('vanilla');
  if (van.length) {
    const lastTrain = (r: ExperimentReport) => r.epochs.filter((e) => e.member === 0).at(-1)?.trainAccuracy;
    const running = statOf(van.map(lastTrain));
    // the final model re-evaluated on its training split (reports from before this field: the running mean)
    const fit = statOf(van.map((r) => r.train?.accuracy));
    const tr = fit ?? running;
    const conf = statOf(van.map((r) => r.final.confidence));
    const acc = statOf(van.map((r) => r.final.accuracy));
    const gap = statOf(van.map((r) => r.final.confidence - r.final.accuracy));
    md.push(
      table(
        ['', 'value'],
        [
          ...(fit ? [['training accuracy of the final model (inference mode)', pct(fit)]] : []),
          ['training accuracy, last epoch (running over its batches)', pct(running)],
          ['training NLL of the final model', formatStat(statOf(van.map((r) => r.train?.nll)), 1, 4)],
          ['test accuracy', pct(acc)],
          ['test mean confidence', pct(conf)],
          ['confidence − accuracy', pct(gap)],
          ['test ECE', pct(statOf(van.map((r) => r.final.ece)))],
        ],
      ),
    );
    const E = Math.min(...van.map((r) => r.epochs.filter((e) => e.member === 0).length));
    const curve = (get: (e: ExperimentReport['epochs'][number]) => number | undefined) =>
      Array.from({ length: E }, (_, i) => {
        const s = statOf(van.map((r) => get(r.epochs.filter((e) => e.member === 0)[i])));
        return { x: i + 1, y: s?.mean ?? Number.NaN, err: s?.std ?? undefined };
      });
    figures['fig0-vanilla-training.svg'] = lineChart({
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
    const fits = tr && tr.mean >= 0.99;
    claims.push({
      text: 'the vanilla model reaches (near) 100 % training accuracy',
      holds: tr ? fits : undefined,
      evidence: `${fit ? 'final-model' : 'last-epoch running'} training accuracy ${pct(tr)}`,
    });
    claims.push({
      text: 'the vanilla model is over-confident on clean test data (confidence > accuracy)',
      holds: gap ? gap.mean > 0 : undefined,
      evidence: `confidence − accuracy ${pct(gap)}`,
    });
  } else md.push('No finished vanilla run.');

  // --- Table 2
  md.push('', '## 2. Clean test calibration (paper Table 2)', '');
  const t2 = [...SINGLE, ...ENSEMBLES].map((f) => {
    const r = rows(f);
    return [
      label(f),
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
      `Label-smoothing sweep (mean validation ECE): ${sel.candidates.map((c) => `ε = ${c.epsilon}: ${(100 * c.valEce).toFixed(2)}`).join('; ')} → ε = ${sel.epsilon}.`,
    );
  const ece = (f: Family) => statOf(rows(f).map((x) => x.final.ece));
  for (const other of ['vanilla', 'temperature-scaling', 'label-smoothing', 'adals', 'ccat'] as Family[]) {
    claims.push({
      text: `clean ECE: AR-AdaLS < ${label(other)}`,
      holds: lt(ece('ar-adals'), ece(other)),
      evidence: `${show('AR-AdaLS', ece('ar-adals'))} vs ${show(label(other), ece(other))}`,
    });
  }
  claims.push({
    text: 'clean ECE: label smoothing < vanilla',
    holds: lt(ece('label-smoothing'), ece('vanilla')),
    evidence: `${show('LS', ece('label-smoothing'))} vs ${show('vanilla', ece('vanilla'))}`,
  });

  // --- Figs 1 and 2
  md.push('', '## 3. Accuracy, confidence and ECE by adversarial-robustness subset (paper Figs. 1 and 2)', '');
  md.push(
    'Subset 1 holds the least robust tenth of the test set (smallest FMN-L2 perturbation on the vanilla reference), subset R the most robust. Error bars: ± one standard deviation over seeds.',
    '',
  );
  const subsetFamilies: Family[] = ['vanilla', 'label-smoothing', 'ar-adals'];
  for (const f of subsetFamilies) {
    const r = rows(f);
    if (!r.some((x) => x.bySubset.length)) continue;
    const key = f === 'vanilla' ? 'fig1' : f === 'label-smoothing' ? 'fig2a' : 'fig2b';
    figures[`${key}-${f}-acc-conf.svg`] = lineChart({
      title: `${label(f)}: accuracy and confidence by robustness subset`,
      xLabel: 'adversarial robustness subset (1 = least robust)',
      yLabel: 'fraction',
      series: [
        { name: 'accuracy', points: bySubsetSeries(r, 'acc') },
        { name: 'confidence', points: bySubsetSeries(r, 'conf') },
      ],
    });
    md.push(`![${label(f)} by subset](figures/${key}-${f}-acc-conf.svg)`, '');
  }
  const eceSeries = subsetFamilies
    .map((f) => ({ name: label(f), points: bySubsetSeries(rows(f), 'ece') }))
    .filter((s) => s.points.length);
  if (eceSeries.length) {
    figures['fig2c-ece-by-subset.svg'] = lineChart({
      title: 'ECE by robustness subset',
      xLabel: 'adversarial robustness subset (1 = least robust)',
      yLabel: 'ECE',
      series: eceSeries,
    });
    md.push('![ECE by subset](figures/fig2c-ece-by-subset.svg)', '');
    const R = Math.max(...eceSeries.map((s) => s.points.length));
    md.push(
      table(
        ['subset', ...subsetFamilies.flatMap((f) => [`${label(f)} acc`, 'conf', 'ECE'])],
        Array.from({ length: R }, (_, i) => [
          String(i + 1),
          ...subsetFamilies.flatMap((f) => {
            const r = rows(f).filter((x) => x.bySubset.length > i);
            return (['acc', 'conf', 'ece'] as const).map((k) => pct(statOf(r.map((x) => x.bySubset[i][k])), 1));
          }),
        ]),
      ),
    );
    const vr = rows('vanilla').filter((x) => x.bySubset.length);
    if (vr.length) {
      const first = (k: 'acc' | 'conf' | 'ece') => statOf(vr.map((x) => x.bySubset[0][k]));
      const last = (k: 'acc' | 'conf' | 'ece') => statOf(vr.map((x) => x.bySubset.at(-1)![k]));
      claims.push({
        text: 'vanilla: accuracy rises from the least to the most robust subset',
        holds: lt(first('acc'), last('acc')),
        evidence: `subset 1 ${pct(first('acc'))} → subset R ${pct(last('acc'))}`,
      });
      claims.push({
        text: 'vanilla: confidence rises from the least to the most robust subset',
        holds: lt(first('conf'), last('conf')),
        evidence: `subset 1 ${pct(first('conf'))} → subset R ${pct(last('conf'))}`,
      });
      claims.push({
        text: 'vanilla: the least robust subset is worse calibrated than the most robust',
        holds: lt(last('ece'), first('ece')),
        evidence: `ECE subset 1 ${pct(first('ece'))} vs subset R ${pct(last('ece'))}`,
      });
      const overAll = vr.every((x) => x.bySubset.every((s) => s.conf >= s.acc));
      claims.push({
        text: 'vanilla: confidence ≥ accuracy in every subset',
        holds: overAll,
        evidence: `${vr.length} run(s) checked subset by subset`,
      });
    }
  }
  // Variance panels of Figs. 1–2: σ² across the M independently seeded members of each ensemble run, per subset.
  const varFams: Family[] = ['ens-vanilla', 'ens-label-smoothing', 'ens-ar-adals'];
  const subsetVar = varFams
    .map((f) => ({ f, name: label(f).replace('Ensemble of ', ''), points: bySubsetSeries(rows(f), 'variance') }))
    .filter((s) => s.points.length);
  md.push('', '### Variance by robustness subset (paper Figs. 1 and 2d)', '');
  if (subsetVar.length) {
    md.push(
      `σ² of the predicted probability across the M = ${p.members} independently seeded members of one ensemble run of each method (σ² as in the paper's §3, over each subset's test examples).`,
      '',
    );
    figures['fig2d-variance-by-subset.svg'] = lineChart({
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
    const of = (f: Family) => subsetVar.find((s) => s.f === f)?.points;
    const van = of('ens-vanilla');
    if (van) {
      claims.push({
        text: 'vanilla: the least robust subset has a higher variance than the most robust',
        holds: van[0].y > van[van.length - 1].y,
        evidence: `σ² subset 1 ${van[0].y.toExponential(2)} vs subset R ${van[van.length - 1].y.toExponential(2)}`,
      });
    }
    // the subsets' σ² averaged over examples: the run's overall σ²
    const overall = (f: Family) => rows(f)[0]?.variance;
    for (const other of ['ens-vanilla', 'ens-label-smoothing'] as Family[]) {
      const a = overall('ens-ar-adals');
      const b = overall(other);
      const a0 = of('ens-ar-adals')?.[0].y;
      const b0 = of(other)?.[0].y;
      claims.push({
        text: `variance in the least robust subset: AR-AdaLS < ${label(other).replace('Ensemble of ', '')}`,
        holds: a0 !== undefined && b0 !== undefined ? a0 < b0 : undefined,
        evidence: `subset 1 σ² ${a0?.toExponential(2) ?? '–'} vs ${b0?.toExponential(2) ?? '–'}; overall ${a?.toExponential(2) ?? '–'} vs ${b?.toExponential(2) ?? '–'}`,
      });
    }
  } else md.push('No ensemble run with per-subset variance (needs M ≥ 2 and robustness subsets).');

  // --- Table 3
  md.push('', '## 4. ECE under corruption, mean over corruption types per severity (paper Table 3)', '');
  const sevs = p.severities;
  const t3 = [...SINGLE, ...ENSEMBLES].map((f) => {
    const r = rows(f).filter((x) => shiftOf(x));
    const bySev = sevs.map((sv) =>
      pct(statOf(r.map((x) => shiftOf(x)!.meanEceBySeverity.find((m) => m.severity === sv)?.meanEce)), 1),
    );
    return [label(f), ...bySev, pct(statOf(r.map((x) => shiftMean(x, 'ece'))), 1)];
  });
  md.push(table(['method', ...sevs.map((s) => `severity ${s}`), 'all'], t3));
  const sEce = (f: Family) => statOf(rows(f).map((x) => shiftMean(x, 'ece')));
  for (const other of ['vanilla', 'label-smoothing', 'adals'] as Family[]) {
    claims.push({
      text: `shift ECE: AR-AdaLS < ${label(other)}`,
      holds: lt(sEce('ar-adals'), sEce(other)),
      evidence: `${show('AR-AdaLS', sEce('ar-adals'))} vs ${show(label(other), sEce(other))}`,
    });
  }
  for (const other of ['ens-vanilla', 'ens-label-smoothing', 'ens-adals', 'ens-ar-adals'] as Family[]) {
    claims.push({
      text: `shift ECE: AR-AdaLS of Ensemble < ${label(other)}`,
      holds: lt(sEce('ar-adals-of-ensemble'), sEce(other)),
      evidence: `${show('AR-AdaLS of Ensemble', sEce('ar-adals-of-ensemble'))} vs ${show(label(other), sEce(other))}`,
    });
  }

  // --- Fig 3
  md.push('', '## 5. Variance of independent runs under shift (paper Fig. 3)', '');
  md.push(
    `σ² of the predicted probabilities across the M = ${p.members} independently trained members of each ensemble run ("clean" = the clean test set); boxes: quartiles across corruption types, whiskers: min and max.`,
    '',
  );
  const varFamilies: Family[] = ['ens-vanilla', 'ens-label-smoothing', 'ens-ar-adals'];
  const cats = ['clean', ...sevs.map(String)];
  const varSeries = varFamilies
    .map((f) => {
      const r = rows(f)[0];
      if (!r) return undefined;
      const vals = [
        [r.variance].filter(finite),
        ...sevs.map((sv) =>
          (shiftOf(r)?.rows ?? [])
            .filter((x) => x.severity === sv)
            .map((x) => x.variance)
            .filter(finite),
        ),
      ];
      return { name: label(f).replace('Ensemble of ', ''), values: vals };
    })
    .filter((s): s is { name: string; values: number[][] } => s?.values.some((v) => v.length) === true);
  if (varSeries.length) {
    figures['fig3-variance-shift.svg'] = boxPlot({
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
    const avgVar = (f: Family) => {
      const r = rows(f)[0];
      const v = (shiftOf(r ?? ({} as ExperimentReport))?.rows ?? []).map((x) => x.variance).filter(finite);
      return v.length ? meanStd(v) : undefined;
    };
    for (const other of ['ens-vanilla', 'ens-label-smoothing'] as Family[]) {
      const a = avgVar('ens-ar-adals');
      const b = avgVar(other);
      claims.push({
        text: `variance under shift: AR-AdaLS < ${label(other).replace('Ensemble of ', '')}`,
        holds: lt(a, b),
        evidence: `mean σ² ${a?.mean.toExponential(2) ?? '–'} vs ${b?.mean.toExponential(2) ?? '–'}`,
      });
    }
  } else md.push('No ensemble run with shift results.');

  // --- Table 4
  md.push('', '## 6. Pre-computed vs on-the-fly robustness (paper Table 4)', '');
  const t4Fam: Family[] = ['vanilla', 'label-smoothing', 'temperature-scaling', 'ar-adals', 'ar-adals-otf'];
  const t4Label = (f: Family) => (f === 'ar-adals' ? 'AR-AdaLS (pre-compute)' : label(f));
  md.push(
    table(
      ['', ...t4Fam.map(t4Label)],
      [
        [
          'Acc / cAcc',
          ...t4Fam.map(
            (f) =>
              `${pct(statOf(rows(f).map((x) => x.final.accuracy)), 1)} / ${pct(statOf(rows(f).map((x) => shiftMean(x, 'accuracy'))), 1)}`,
          ),
        ],
        [
          'ECE / cECE',
          ...t4Fam.map(
            (f) =>
              `${pct(statOf(rows(f).map((x) => x.final.ece)), 2)} / ${pct(statOf(rows(f).map((x) => shiftMean(x, 'ece'))), 2)}`,
          ),
        ],
        [
          'minutes per run',
          ...t4Fam.map((f) => formatStat(statOf(rows(f).map((x) => x.timings.totalSeconds / 60)), 1, 1)),
        ],
      ],
    ),
  );
  md.push('', 'cAcc and cECE: mean over every corruption × severity.');
  claims.push({
    text: 'clean ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS',
    holds: lt(ece('ar-adals-otf'), ece('ar-adals')),
    evidence: `${show('on-the-fly', ece('ar-adals-otf'))} vs ${show('pre-compute', ece('ar-adals'))}`,
  });
  claims.push({
    text: 'shift ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS',
    holds: lt(sEce('ar-adals-otf'), sEce('ar-adals')),
    evidence: `${show('on-the-fly', sEce('ar-adals-otf'))} vs ${show('pre-compute', sEce('ar-adals'))}`,
  });

  // --- Fig 4
  md.push('', `## 7. Out-of-distribution data: ${p.ood} (paper Fig. 4)`, '');
  const oodFam: Family[] = ['vanilla', 'label-smoothing', 'mixup', 'ar-adals'];
  const histSeries = oodFam
    .map((f) => {
      const hs = rows(f)
        .map(oodOf)
        .filter((o): o is OodSection => o !== undefined);
      if (!hs.length) return undefined;
      const nb = hs[0].histogramOut.density.length;
      return {
        name: label(f),
        edges: hs[0].histogramOut.edges,
        values: Array.from({ length: nb }, (_, b) => hs.reduce((s, h) => s + h.histogramOut.density[b], 0) / hs.length),
      };
    })
    .filter((s): s is { name: string; edges: number[]; values: number[] } => s !== undefined);
  if (histSeries.length) {
    figures['fig4-ood-entropy.svg'] = histogramChart({
      title: `Predictive entropy on ${p.ood} (OOD)`,
      xLabel: 'entropy (nats)',
      yLabel: 'density (mean over seeds)',
      edges: histSeries[0].edges,
      series: histSeries,
    });
    md.push('![OOD entropy](figures/fig4-ood-entropy.svg)', '');
  }
  const au = (f: Family) => statOf(rows(f).map((x) => oodOf(x)?.aurocEntropy));
  md.push(
    table(
      ['method', 'AUROC (entropy)', 'AUROC (max prob.)', 'mean OOD entropy'],
      [...SINGLE, ...ENSEMBLES].map((f) => [
        label(f),
        formatStat(au(f), 1, 3),
        formatStat(statOf(rows(f).map((x) => oodOf(x)?.aurocMaxProb)), 1, 3),
        formatStat(statOf(rows(f).map((x) => oodOf(x)?.meanEntropyOut)), 1, 3),
      ]),
    ),
  );
  for (const other of ['label-smoothing', 'mixup'] as Family[]) {
    claims.push({
      text: `OOD AUROC: AR-AdaLS > ${label(other)}`,
      holds: lt(au(other), au('ar-adals')),
      evidence: `${show('AR-AdaLS', au('ar-adals'), 1)} vs ${show(label(other), au(other), 1)}`,
    });
  }

  // --- Fig 5
  md.push('', '## 8. Sensitivity to the number of robustness subsets R (paper Fig. 5)', '');
  const rReports = (R: number) => {
    const xs = done(input.experiments).filter(
      (x) =>
        (x.planned.family === 'r-sweep' && x.planned.config['method.subsets'] === R) ||
        (R === 1 && x.planned.family === 'adals') ||
        (R === p.subsets && x.planned.family === 'ar-adals'),
    );
    return xs.filter((x) => p.rSeeds.includes(x.planned.seed) || x.planned.family === 'r-sweep').map((x) => x.report);
  };
  const rPoints = (get: (r: ExperimentReport) => number | undefined) =>
    p.rValues.map((R) => {
      const s = statOf(rReports(R).map(get));
      return { x: R, y: s?.mean ?? Number.NaN, err: s?.std ?? undefined };
    });
  const rClean = rPoints((r) => r.final.ece);
  const rShift = rPoints((r) => shiftMean(r, 'ece'));
  figures['fig5-ece-vs-r.svg'] = lineChart({
    title: 'AR-AdaLS: ECE vs number of subsets R (R = 1 is AdaLS)',
    xLabel: 'R',
    yLabel: 'ECE',
    series: [
      { name: 'clean', points: rClean },
      { name: 'corrupted (mean)', points: rShift },
    ],
  });
  md.push('![ECE vs R](figures/fig5-ece-vs-r.svg)', '');
  md.push(
    table(
      ['R', 'runs', 'clean ECE', 'corrupted ECE'],
      p.rValues.map((R) => [
        String(R),
        String(rReports(R).length),
        pct(statOf(rReports(R).map((r) => r.final.ece))),
        pct(statOf(rReports(R).map((r) => shiftMean(r, 'ece')))),
      ]),
    ),
  );
  md.push(
    '',
    `Seeds ${p.rSeeds.join(', ')} at every R (R = 1 and R = ${p.subsets} reuse the AdaLS and AR-AdaLS runs of those seeds).`,
  );
  const r1 = statOf(rReports(1).map((r) => r.final.ece));
  const r10 = statOf(rReports(p.subsets).map((r) => r.final.ece));
  claims.push({
    text: `clean ECE falls from R = 1 (AdaLS) to R = ${p.subsets}`,
    holds: lt(r10, r1),
    evidence: `${show(`R = ${p.subsets}`, r10)} vs ${show('R = 1', r1)}`,
  });

  // --- orderings
  md.push('', "## 9. Do the paper's orderings hold here?", '');
  const verdict = (c: Claim) => (c.holds === undefined ? 'not measured' : c.holds ? 'holds' : '**does not hold**');
  md.push(
    table(
      ['claim', 'here', 'numbers'],
      claims.map((c) => [c.text, verdict(c), c.evidence]),
      'text',
    ),
  );
  const nHold = claims.filter((c) => c.holds === true).length;
  const nNot = claims.filter((c) => c.holds === false).length;
  md.push(
    '',
    `${nHold} of ${claims.length} orderings hold, ${nNot} do not, ${claims.length - nHold - nNot} could not be measured. A difference smaller than the seed-to-seed standard deviation is not evidence either way.`,
  );

  md.push('', '## Left out', '');
  md.push(
    [
      '- CIFAR-10/100 and ImageNet: this reproduction runs on 28×28 grey images with the networks above; colour-only corruptions (saturate) and frost do not apply.',
      `- Mix-n-Match here is fitted by arcal on the validation split (the paper copies a published number).`,
    ].join('\n'),
  );
  return { markdown: `${md.join('\n')}\n`, figures };
}

export { ENSEMBLES, SINGLE };
