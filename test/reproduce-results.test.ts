/**
 * The reproduction's table and figure writer on fabricated reports of the smoke plan: rows, selected ε,
 * mean ± std and the verdicts are checked against values worked out by hand from the fabrication.
 */
import type { ExperimentReport } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import { type Family, type PlannedExperiment, planFor, SMOKE } from '../scripts/reproduce/plan.ts';
import { buildResults, selectLsEpsilon } from '../scripts/reproduce/results.ts';
import { niceTicks, quantile } from '../scripts/reproduce/svg.ts';

/** Clean test ECE of each family at seed 0; seed s adds 0.02·s. */
const ECE: Partial<Record<Family, number>> = {
  vanilla: 0.1,
  'temperature-scaling': 0.04,
  'label-smoothing': 0.05,
  adals: 0.06,
  'ar-adals': 0.03,
  'ar-adals-otf': 0.02,
  mixup: 0.025,
  ccat: 0.09,
  'mix-n-match': 0.035,
  'r-sweep': 0.045,
  'ens-vanilla': 0.05,
  'ens-label-smoothing': 0.04,
  'ens-adals': 0.045,
  'ens-ar-adals': 0.044,
  'ar-adals-of-ensemble': 0.03,
};

function fabricate(e: PlannedExperiment): ExperimentReport {
  const eps = e.config['method.epsilon'] as number | undefined;
  // the ε = 0.2 runs get the lower validation ECE, so the sweep must pick 0.2; their test ECE is 0.05 + 0.02·s,
  // the ε = 0.05 runs' test ECE is 0.5 (it must not appear in the LS row)
  const testEce = e.family === 'label-smoothing' && eps === 0.05 ? 0.5 : ECE[e.family]! + 0.02 * e.seed;
  const valEce = e.family === 'label-smoothing' ? (eps === 0.2 ? 0.01 : 0.03) : 0.02;
  const ensemble = e.family.startsWith('ens-') || e.family === 'ar-adals-of-ensemble';
  const rows = SMOKE.corruptions.flatMap((c) =>
    SMOKE.severities.map((sv) => ({
      corruption: c,
      severity: sv,
      accuracy: 0.8 - 0.1 * sv,
      ece: testEce + 0.01 * sv,
      nll: 1,
      ...(ensemble ? { variance: (ECE[e.family]! * sv) / 100 } : {}),
    })),
  );
  return {
    arcal: 'test',
    spec: e.spec,
    backend: 'cpu',
    dataset: { name: 'fashion-mnist', source: 'fabricated', train: 300, validation: 100, test: 100, checksum: 'x' },
    epochs: Array.from({ length: 3 }, (_, i) => ({
      epoch: i + 1,
      member: 0,
      trainLoss: 1 - i * 0.3,
      trainAccuracy: i === 2 ? 0.995 + 0.001 * e.seed : 0.8,
      learningRate: 0.001,
      seconds: 1,
      validation: { accuracy: 0.8, nll: 0.5, ece: valEce, brier: 0.3, confidence: 0.9, count: 100 },
    })),
    final: {
      accuracy: 0.8 + 0.01 * e.seed,
      nll: 0.6,
      ece: testEce,
      brier: 0.3,
      confidence: 0.9,
      count: 100,
      reliability: [],
    },
    members: [],
    bySubset: Array.from({ length: 10 }, (_, i) => ({
      subset: i,
      count: 10,
      acc: 0.5 + 0.05 * i,
      conf: 0.6 + 0.04 * i,
      ece: 0.2 - 0.015 * i,
      minRobustness: i,
      maxRobustness: i + 1,
    })),
    ...(ensemble ? { variance: ECE[e.family]! / 200 } : {}),
    shift: {
      rows,
      meanEceBySeverity: SMOKE.severities.map((sv) => ({
        severity: sv,
        meanEce: testEce + 0.01 * sv,
        corruptions: SMOKE.corruptions.length,
      })),
      notApplicable: [],
    },
    ood: {
      aurocEntropy: e.family === 'ar-adals' ? 0.9 : 0.8,
      aurocMaxProb: 0.8,
      meanEntropyOut: 1,
      histogramOut: { edges: [0, 1, 2], counts: [5, 5], density: [0.5, 0.5], outside: 0 },
    },
    notes: [],
    timings: { totalSeconds: 60, trainSeconds: 50, attackSeconds: 5, evalSeconds: 5 },
  };
}

const rowOf = (md: string, name: string) => md.split('\n').find((l) => l.startsWith(`| ${name} |`));

describe('reproduction results', () => {
  const phase1 = planFor(SMOKE);
  const experiments = phase1.map((planned) => ({ planned, report: fabricate(planned) }));

  it('selects the ε with the lowest mean validation ECE', () => {
    const sel = selectLsEpsilon(experiments);
    expect(sel?.epsilon).toBe(0.2);
    expect(sel?.candidates.map((c) => c.epsilon).sort()).toEqual([0.05, 0.2]);
  });

  const full = planFor(SMOKE, 0.2);
  const ensLs = full.find((e) => e.family === 'ens-label-smoothing')!;
  expect(ensLs.spec.method).toMatchObject({ kind: 'label-smoothing', epsilon: 0.2 });
  const input = {
    preset: SMOKE,
    experiments: [
      ...experiments,
      { planned: ensLs, report: fabricate(ensLs) },
      { planned: { ...full[0], dir: 'vanilla/seed=9', seed: 9 }, error: 'boom' },
    ],
    machine: { cpu: 'test cpu', cores: 2, memoryGb: 8, os: 'test', node: '20', backend: 'cpu' },
    generatedAt: '2000-01-01T00:00:00Z',
    scriptSeconds: 1,
  };
  const { markdown, figures } = buildResults(input);

  it('Table 2: mean ± std over seeds, LS only at the selected ε, one row per method', () => {
    // vanilla seeds 0, 1: ECE 10 %, 12 % → 11.00 ± 1.41 (√2 = 1.414); accuracy 80 %, 81 % → 80.50 ± 0.71
    expect(rowOf(markdown, 'Vanilla')).toBe('| Vanilla | 2 | 80.50 ± 0.71 | 11.00 ± 1.41 | 0.6000 ± 0.0000 |');
    expect(rowOf(markdown, 'Label Smoothing (ε = 0.2)')).toContain('| 6.00 ± 1.41 |');
    // one ensemble run: no ±
    expect(rowOf(markdown, 'AR-AdaLS of Ensemble')).toBe('| AR-AdaLS of Ensemble | 1 | 80.00 | 3.00 | 0.6000 |');
    for (const name of [
      'Temperature Scaling',
      'AdaLS',
      'AR-AdaLS',
      'mixup',
      'CCAT',
      'Mix-n-Match',
      'Ensemble of Vanilla',
      'Ensemble of LS (ε = 0.2)',
      'Ensemble of AdaLS',
      'Ensemble of AR-AdaLS',
    ]) {
      expect(rowOf(markdown, name), name).toBeDefined();
    }
  });

  it('Table 3: mean ECE per severity and overall', () => {
    // AR-AdaLS: ECE 0.03 + 0.02 s + 0.01·sev → severity 1: 4 %, 6 % → 5.0 ± 1.4; all: mean over sev of (0.04 + 0.01 sev) → 7.0 ± 1.4
    const lines = markdown.split('\n');
    const t3Start = lines.findIndex((l) => l.startsWith('## 4.'));
    const ar = lines.slice(t3Start).find((l) => l.startsWith('| AR-AdaLS |'))!;
    expect(ar).toBe('| AR-AdaLS | 5.0 ± 1.4 | 6.0 ± 1.4 | 7.0 ± 1.4 | 8.0 ± 1.4 | 9.0 ± 1.4 | 7.0 ± 1.4 |');
  });

  it('Fig. 5: R = 1 is AdaLS, R = 10 is AR-AdaLS, other R from the sweep, with seeds of the sweep only', () => {
    const lines = markdown.split('\n');
    const start = lines.findIndex((l) => l.startsWith('## 8.'));
    const r = (R: number) => lines.slice(start).find((l) => l.startsWith(`| ${R} |`));
    // rSeeds = [0]: AdaLS seed 0 → 6.00, AR-AdaLS seed 0 → 3.00, sweep → 4.50; corrupted = clean + mean(0.01·sev) = clean + 3.00
    expect(r(1)).toBe('| 1 | 1 | 6.00 | 9.00 |');
    expect(r(10)).toBe('| 10 | 1 | 3.00 | 6.00 |');
    expect(r(2)).toBe('| 2 | 1 | 4.50 | 7.50 |');
    const svg = figures['fig5-ece-vs-r.svg'];
    const polylines = svg.match(/<polyline[^>]*points="([^"]+)"/g)!;
    expect(polylines).toHaveLength(2);
    expect(polylines[0].split('points="')[1].trim().split(' ')).toHaveLength(SMOKE.rValues.length);
  });

  it('writes every figure as a standalone SVG and the verdicts follow the numbers', () => {
    expect(Object.keys(figures).sort()).toEqual(
      [
        'fig0-vanilla-training.svg',
        'fig1-vanilla-acc-conf.svg',
        'fig2a-label-smoothing-acc-conf.svg',
        'fig2b-ar-adals-acc-conf.svg',
        'fig2c-ece-by-subset.svg',
        'fig3-variance-shift.svg',
        'fig4-ood-entropy.svg',
        'fig5-ece-vs-r.svg',
      ].sort(),
    );
    for (const svg of Object.values(figures)) {
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).not.toMatch(/NaN/);
    }
    const verdict = (claim: string) =>
      markdown
        .split('\n')
        .find((l) => l.startsWith(`| ${claim} |`))
        ?.split(' | ')[1];
    expect(verdict('clean ECE: AR-AdaLS < Vanilla')).toBe('holds');
    // TS 4 %/6 % vs AR-AdaLS 3 %/5 %: holds; on-the-fly 2 % < pre-compute 3 %: holds
    expect(verdict('clean ECE: AR-AdaLS < Temperature Scaling')).toBe('holds');
    expect(verdict('clean ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS')).toBe('holds');
    expect(verdict('the vanilla model reaches (near) 100 % training accuracy')).toBe('holds');
    // confidence 90 % vs accuracy 80.5 %: over-confident
    expect(verdict('the vanilla model is over-confident on clean test data (confidence > accuracy)')).toBe('holds');
    // AR-AdaLS of Ensemble 3 % vs Ensemble of LS 4 % under shift: holds; vs Ensemble of AR-AdaLS 4.4 %: holds
    expect(verdict('shift ECE: AR-AdaLS of Ensemble < Ensemble of AR-AdaLS')).toBe('holds');
    // the fabricated OOD AUROC is 0.9 for AR-AdaLS, 0.8 otherwise
    expect(verdict('OOD AUROC: AR-AdaLS > mixup')).toBe('holds');
    // the fabricated subsets: ECE falls with robustness, confidence rises
    expect(verdict('vanilla: the least robust subset is worse calibrated than the most robust')).toBe('holds');
    // conf (0.6 + 0.04 i) ≥ acc (0.5 + 0.05 i) fails at i = 10? no: at i = 9, 0.96 vs 0.95 holds for all 10 subsets
    expect(verdict('vanilla: confidence ≥ accuracy in every subset')).toBe('holds');
    // the failed experiment is listed
    expect(markdown).toContain('`vanilla/seed=9`: boom');
  });

  it('an ordering that the numbers contradict is reported as not holding', () => {
    const flipped = experiments.map((x) =>
      x.planned.family === 'ar-adals' ? { ...x, report: { ...x.report, final: { ...x.report.final, ece: 0.3 } } } : x,
    );
    const md = buildResults({ ...input, experiments: flipped }).markdown;
    const line = md.split('\n').find((l) => l.startsWith('| clean ECE: AR-AdaLS < Vanilla |'))!;
    expect(line).toContain('**does not hold**');
  });
});

describe('svg helpers', () => {
  it('type-7 quartiles and round ticks', () => {
    // [1, 2, 3, 4]: q1 at position 0.75 → 1.75, median 2.5, q3 at 2.25 → 3.25
    expect([0.25, 0.5, 0.75].map((q) => quantile([1, 2, 3, 4], q))).toEqual([1.75, 2.5, 3.25]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.013, 0.094)).toEqual([0.02, 0.04, 0.06, 0.08]);
  });
});
