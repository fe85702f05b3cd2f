/**
 * The reproduction's table and figure writer on fabricated summaries of the smoke plan: rows, selected ε,
 * mean ± std and the verdicts are checked against values worked out by hand from the fabrication; and the
 * summaries' round trip through the data folder that a later run resumes from.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ExperimentReport } from '@arcal/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { type PartRecord, partsLine, readParts, recordPart } from '../scripts/reproduce/parts.ts';
import {
  costOf,
  FASHION_MNIST,
  type Family,
  type PlannedExperiment,
  planCosts,
  planFor,
  SMOKE,
} from '../scripts/reproduce/plan.ts';
import { publishReferences, restoreReferences } from '../scripts/reproduce/references.ts';
import {
  buildResults,
  chooseSwept,
  type Finished,
  figuresToSvg,
  selectLsEpsilon,
} from '../scripts/reproduce/results/index.ts';
import { readSummary, summarize, summaryPath, writeSummary } from '../scripts/reproduce/summary.ts';

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

/**
 * Seed-dependent extras on top of ECE + 0.02·seed, so that two claims have spread between their two pairs:
 * CCAT seed 1 +0.01 (AR-AdaLS on-the-fly vs CCAT: differences −0.07, −0.08) and AdaLS seed 1 +0.1
 * (on-the-fly vs AdaLS: −0.04, −0.14). Every other pair of seeds differs by the same amount.
 */
const JITTER: Partial<Record<Family, number>> = { ccat: 0.01, adals: 0.1 };

function fabricateReport(e: PlannedExperiment): ExperimentReport {
  const eps = e.config['method.epsilon'] as number | undefined;
  // the ε = 0.2 runs get the lower validation ECE, so the sweep must pick 0.2; their test ECE is 0.05 + 0.02·s,
  // the ε = 0.05 runs' test ECE is 0.5 (it must not appear in the LS row)
  const testEce =
    e.family === 'label-smoothing' && eps === 0.05
      ? 0.5
      : ECE[e.family]! + 0.02 * e.seed + (e.seed === 1 ? (JITTER[e.family] ?? 0) : 0);
  const adaptive = e.family === 'adals' || e.family === 'ar-adals' || e.family === 'ar-adals-otf';
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
      // p̃ of (0-based) subset r after epoch k: 1 − 0.01·k·(10 − r)
      ...(adaptive
        ? {
            softLabels: {
              pTrue: Array.from({ length: 10 }, (_, r) => 1 - 0.01 * (i + 1) * (10 - r)),
              epsilon: Array.from({ length: 10 }, () => 0),
              valConf: Array.from({ length: 10 }, () => 0.9),
              valAcc: Array.from({ length: 10 }, () => 0.8),
            },
          }
        : {}),
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
      aurocEntropy: e.family === 'ar-adals-otf' ? 0.9 + 0.01 * e.seed : 0.8,
      aurocMaxProb: 0.8,
      meanEntropyOut: 1,
      histogramOut: { edges: [0, 1, 2], counts: [5, 5], density: [0.5, 0.5], outside: 0 },
    },
    notes: [],
    timings: { totalSeconds: 60, trainSeconds: 50, attackSeconds: 5, evalSeconds: 5 },
  };
}

const fabricate = (e: PlannedExperiment) => summarize('smoke', e, fabricateReport(e));

const baseInput = {
  machine: { cpu: 'test cpu', cores: 2, memoryGb: 8, os: 'test', node: '20', backend: 'cpu' },
  generatedAt: '2000-01-01T00:00:00Z',
  scriptSeconds: 1,
};

const rowOf = (md: string, name: string) => md.split('\n').find((l) => l.startsWith(`| ${name} |`));
/** The cells of a claim's row in the verdict table. */
const claimRow = (md: string, claim: string) => {
  const line = md.split('\n').find((l) => l.startsWith(`| ${claim} |`));
  if (!line) throw new Error(`no row for ${claim}`);
  const c = line.split(' | ').map((x) => x.replace(/^\| /, ''));
  return { pairs: c[2], diff: c[3], p: c[4], holm: c[5], verdict: c[6] };
};

describe('reproduction results', () => {
  const phase1 = planFor(SMOKE);
  const experiments = phase1.map((planned) => ({ planned, summary: fabricate(planned) }));

  it('selects the ε with the lowest mean validation ECE', () => {
    const sel = selectLsEpsilon(experiments);
    expect(sel?.epsilon).toBe(0.2);
    expect(sel?.candidates.map((c) => c.epsilon).sort()).toEqual([0.05, 0.2]);
  });

  const full = planFor(SMOKE, { epsilon: 0.2 });
  const ensLs = full.find((e) => e.family === 'ens-label-smoothing')!;
  expect(ensLs.spec.method).toMatchObject({ kind: 'label-smoothing', epsilon: 0.2 });
  const input = {
    preset: SMOKE,
    experiments: [
      ...experiments,
      { planned: ensLs, summary: fabricate(ensLs) },
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
    // the figure plots the same means: one line per series, a point per R of the sweep
    const { values: points } = figures['fig5-ece-vs-r.svg'].data as {
      values: Array<{ series: string; x: number; y: number }>;
    };
    const clean = points.filter((v) => v.series === 'clean');
    expect(new Set(points.map((v) => v.series))).toEqual(new Set(['clean', 'corrupted (mean)']));
    expect(clean.map((v) => v.x)).toEqual(SMOKE.rValues);
    const at = (R: number) => clean.find((v) => v.x === R)!.y;
    expect([at(1), at(2), at(10)].map((y) => y.toFixed(4))).toEqual(['0.0600', '0.0450', '0.0300']);
  });

  it('writes every figure as a standalone SVG', async () => {
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
        'fig6-soft-labels.svg',
      ].sort(),
    );
    for (const svg of Object.values(await figuresToSvg(figures))) {
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).not.toMatch(/NaN/);
    }
    expect(markdown).toContain('`vanilla/seed=9`: boom');
  });

  it('soft labels: final p̃ of subset s is 1 − 0.01·3·(11 − s) after the third epoch', () => {
    const section = markdown.slice(markdown.indexOf('## 9. Soft labels'));
    expect(section.split('\n').find((l) => l.startsWith('| 1 |'))).toMatch(/^\| 1 \| 0\.7000 ± 0\.0000 \|/);
    expect(section.split('\n').find((l) => l.startsWith('| 10 |'))).toMatch(/^\| 10 \| 0\.9700 ± 0\.0000 \|/);
  });

  it('verdicts: differences that are the same in every seed are certain; spread between seeds costs evidence', () => {
    // on-the-fly 2 %/4 % vs vanilla 10 %/12 %: −8 pp in both seeds, no spread → p = 0, holds
    expect(claimRow(markdown, 'clean ECE: AR-AdaLS (on-the-fly) < Vanilla')).toMatchObject({
      pairs: '2',
      diff: '-8.00 pp [-8.00, -8.00]',
      p: '0',
      verdict: 'holds',
    });
    // vs CCAT 9 %/12 %: −7, −8 pp → mean −7.5, se 0.5, t = −15 with 1 df; p = 1 − 2·atan(15)/π = 0.0424;
    // 95 % CI −7.5 ± 12.706·0.5 = [−13.85, −1.15]
    const ccat = claimRow(markdown, 'clean ECE: AR-AdaLS (on-the-fly) < CCAT');
    expect(ccat).toMatchObject({ diff: '-7.50 pp [-13.85, -1.15]', p: '0.042' });
    // vs AdaLS 6 %/18 %: −4, −14 pp → t = −1.8, p = 1 − 2·atan(1.8)/π = 0.323: a tie inside the noise
    expect(claimRow(markdown, 'clean ECE: AR-AdaLS (on-the-fly) < AdaLS')).toMatchObject({
      p: '0.32',
      verdict: 'inconclusive',
    });
    // Holm: the p-values above 0 are 0.0303 (OOD vs LS), 0.0303 (OOD vs mixup: AUROC +0.10, +0.11 → t = 21),
    // 0.0424 (CCAT), 0.323, 0.356 (shift ECE vs AdaLS: t = −1.6) and 1 (Fig. 2c: equal subsets). The first
    // of them is multiplied by 6, and CCAT's adjusted p is the running maximum 6·0.0303 = 0.18 > 0.05.
    expect(claimRow(markdown, 'OOD AUROC: AR-AdaLS (on-the-fly) > mixup').p).toBe('0.030');
    expect(ccat).toMatchObject({ holm: '0.18', verdict: 'inconclusive' });
    expect(claimRow(markdown, 'shift ECE: AR-AdaLS < AdaLS').p).toBe('0.36');
    // accuracy 80 %/81 % for every method: a change of exactly 0 is inside ±1 pp
    expect(claimRow(markdown, 'accuracy: AR-AdaLS (on-the-fly) within ±1 pp of vanilla').verdict).toBe('holds');
    // one ensemble seed and one R-sweep seed in the smoke preset: no pairs to test
    expect(claimRow(markdown, 'shift ECE: AR-AdaLS of Ensemble < Ensemble of AR-AdaLS')).toMatchObject({
      pairs: '1',
      p: '–',
      verdict: 'inconclusive (not tested: fewer than two pairs)',
    });
    expect(claimRow(markdown, 'clean ECE falls from R = 1 (AdaLS) to R > 1').verdict).toBe(
      'inconclusive (not tested: fewer than two pairs)',
    );
    // the fabricated subsets: accuracy and confidence rise, ECE falls, by the same slope in both seeds
    expect(claimRow(markdown, 'vanilla: ECE falls with adversarial robustness').verdict).toBe('holds');
    expect(claimRow(markdown, 'vanilla: accuracy rises with adversarial robustness').diff).toMatch(/^5\.00 pp\/subset/);
    // set-up checks are listed apart and not counted
    const counted = /(\d+) of (\d+) claims hold, (\d+) (?:is|are) reversed, (\d+) (?:is|are) inconclusive/.exec(
      markdown,
    )!;
    expect(Number(counted[2])).toBe(Number(counted[1]) + Number(counted[3]) + Number(counted[4]));
    // the grouped lists under the count name the same claims as the table's verdict column
    const verdictSection = markdown.slice(markdown.indexOf('## 10.'), markdown.indexOf('### Set-up checks'));
    const tableRows = verdictSection
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| claim |') && !l.startsWith('|:'))
      .map((l) => l.slice(2, -2).split(' | '));
    for (const [label, cell] of [
      ['Hold', /^holds$/],
      ['Reversed', /^\*\*reversed\*\*$/],
      ['Inconclusive', /^inconclusive/],
    ] as const) {
      const names = tableRows.filter((c) => cell.test(c[6])).map((c) => c[0]);
      const line = new RegExp(`^- \\*\\*${label}\\*\\* \\((\\d+)\\): (.*)\\.$`, 'm').exec(verdictSection);
      if (names.length === 0) expect(line, label).toBeNull();
      else expect([Number(line![1]), line![2]], label).toEqual([names.length, names.join('; ')]);
    }
    // the untested ones are counted among the inconclusive and named as such
    const untested = /\((\d+) of them not tested: their experiments have fewer than two paired seeds so far\)/.exec(
      markdown,
    )!;
    expect(Number(untested[1])).toBe(markdown.split('| inconclusive (not tested: fewer than two pairs) |').length - 1);
    expect(Number(untested[1])).toBeGreaterThan(0);
    const setup = markdown.slice(markdown.indexOf('### Set-up checks'));
    expect(setup).toContain('| the vanilla model fits its training set (mean training accuracy ≥ 99 %) | yes |');
    expect(markdown.slice(0, markdown.indexOf('### Set-up checks'))).not.toContain('fits its training set (mean');
  });

  it('the header names the machines the summaries record, not only the one generating the file', () => {
    const machine = { cpu: 'Some CPU', cores: 16, memoryGb: 64, os: 'Linux 6', node: '20.1.0' };
    const all: Finished[] = input.experiments;
    const xs = all.map((x, i) => (i === 0 && x.summary ? { ...x, summary: { ...x.summary, machine } } : x));
    const md = buildResults({ ...input, experiments: xs }).markdown;
    const n = all.filter((x) => x.summary).length;
    expect(md).toContain('Some CPU, 16 cores, 64 GB, Linux 6, Node 20.1.0; backend cpu (1 experiment)');
    expect(md).toContain(`an unrecorded machine; backend cpu (${n - 1} experiments)`);
  });

  it('with nothing finished yet every section still renders and every claim is inconclusive', () => {
    const md = buildResults({ ...input, experiments: full.map((planned) => ({ planned })) }).markdown;
    expect(md).toContain(`0 of ${full.length} experiments finished`);
    const m = /0 of (\d+) claims hold, 0 are reversed, (\d+) (?:is|are) inconclusive \((\d+) of them not tested/.exec(
      md,
    )!;
    expect(m[2]).toBe(m[1]);
    expect(m[3]).toBe(m[1]);
  });

  it('a difference that the numbers contradict in every seed is reported as reversed', () => {
    const flipped = experiments.map((x) =>
      x.planned.family === 'ar-adals-otf'
        ? { ...x, summary: { ...x.summary, final: { ...x.summary.final, ece: 0.3 + 0.02 * x.planned.seed } } }
        : x,
    );
    const md = buildResults({ ...input, experiments: flipped }).markdown;
    expect(claimRow(md, 'clean ECE: AR-AdaLS (on-the-fly) < Vanilla').verdict).toBe('**reversed**');
  });

  it('confidence > accuracy per subset: a subset at 100 % accuracy is left out, not counted against', () => {
    // vanilla seed 0, subset 10: accuracy 100 %, confidence 99 % (under the old rule the claim failed here)
    const full100 = experiments.map((x) =>
      x.planned.family === 'vanilla' && x.planned.seed === 0
        ? {
            ...x,
            summary: {
              ...x.summary,
              bySubset: x.summary.bySubset.map((b, i) => (i === 9 ? { ...b, acc: 1, conf: 0.99 } : b)),
            },
          }
        : x,
    );
    const md = buildResults({ ...input, experiments: full100 }).markdown;
    const row = md
      .split('\n')
      .find((l) => l.startsWith('| vanilla: confidence > accuracy in every robustness subset |'))!;
    expect(row).toContain('| holds |');
    expect(row).toContain('1 subset-seed cell(s) at 100 % accuracy left out');
  });

  it('variance is judged overall and in every subset, over the ensemble seeds', () => {
    const preset = { ...SMOKE, ensembleSeeds: [0, 1] };
    const plan = planFor(preset, { epsilon: 0.2 });
    // Ensemble of AR-AdaLS: half the vanilla ensemble's σ² in subsets 1–9, twice it in subset 10; overall
    // σ² 0.044/200 vs 0.05/200, in both seeds
    const withVar = (e: PlannedExperiment) => {
      const s = fabricate(e);
      const base = (i: number) => 0.001 * (10 - i);
      const factor = (i: number) => (e.family === 'ens-ar-adals' ? (i === 9 ? 2 : 0.5) : 1);
      return e.family.startsWith('ens-')
        ? { ...s, bySubset: s.bySubset.map((b, i) => ({ ...b, variance: base(i) * factor(i) })) }
        : s;
    };
    const md = buildResults({
      ...input,
      preset,
      experiments: plan.map((planned) => ({ planned, summary: withVar(planned) })),
    }).markdown;
    expect(claimRow(md, 'clean variance: AR-AdaLS < Vanilla')).toMatchObject({ pairs: '2', verdict: 'holds' });
    const every = claimRow(md, 'variance in every robustness subset: AR-AdaLS < Vanilla');
    expect(every.verdict).toBe('**reversed**');
    expect(every.diff).toContain('(subset 10)');
    // σ² of the vanilla ensemble falls from 0.01 to 0.001 across the subsets in both seeds
    expect(claimRow(md, 'vanilla: variance across runs falls with adversarial robustness').verdict).toBe('holds');
  });
});

describe('α sweep', () => {
  const preset = { ...SMOKE, alphas: [0.5, 1] };
  // validation ECE: AdaLS is best at α = 0.5, AR-AdaLS at α = 1; the runs at the other α have test ECE 0.5, so
  // they show if they leak into a row
  const sweptSummary = (e: PlannedExperiment) => {
    const s = fabricate(e);
    const alpha = e.config['method.alpha'] as number | undefined;
    if (alpha === undefined || (e.family !== 'adals' && e.family !== 'ar-adals')) return s;
    const best = e.family === 'adals' ? 0.5 : 1;
    const epochs = s.epochs.map((r) => ({ ...r, validation: { ...r.validation!, ece: alpha === best ? 0.01 : 0.05 } }));
    return { ...s, epochs, final: { ...s.final, ece: alpha === best ? s.final.ece : 0.5 } };
  };

  it('AdaLS and AR-AdaLS each keep their best α; what depends on α waits for the choice', () => {
    const phase1 = planFor(preset);
    expect(phase1.filter((e) => e.family === 'adals')).toHaveLength(4);
    for (const f of ['ar-adals-otf', 'r-sweep', 'ens-adals', 'ens-ar-adals', 'ar-adals-of-ensemble'])
      expect(
        phase1.some((e) => e.family === f),
        f,
      ).toBe(false);
    const chosen = chooseSwept(
      phase1.map((planned) => ({ planned, summary: sweptSummary(planned) })),
      preset,
    );
    expect(chosen).toEqual({ epsilon: 0.2, alphaAdaLS: 0.5, alphaArAdaLS: 1 });
    const full = planFor(preset, chosen);
    const methodOf = (f: Family) => full.find((e) => e.family === f)!.spec.method as { alpha: number };
    expect(methodOf('ens-adals').alpha).toBe(0.5);
    for (const f of ['ar-adals-otf', 'r-sweep', 'ens-ar-adals', 'ar-adals-of-ensemble'] as Family[])
      expect(methodOf(f).alpha, f).toBe(1);

    const md = buildResults({
      ...baseInput,
      preset,
      experiments: full.map((planned) => ({ planned, summary: sweptSummary(planned) })),
    }).markdown;
    // AdaLS row: the α = 0.5 runs, ECE 6 %/8 % (+10 % jitter at seed 1 → 18 %); AR-AdaLS row: α = 1, 3 %/5 %
    expect(rowOf(md, 'AdaLS')).toContain('| 12.00 ± 8.49 |');
    expect(rowOf(md, 'AR-AdaLS')).toContain('| 4.00 ± 1.41 |');
    expect(md).toContain('AdaLS α sweep (mean validation ECE): α = 0.5: 1.00; α = 1: 5.00 → α = 0.5.');
    // Fig. 5's R = 1 is AdaLS at AR-AdaLS's α (1), whose fabricated clean ECE is 0.5 (its shift rows keep
    // 0.06 + 0.01·severity: 9 % on average)
    const r1 = md
      .split('\n')
      .slice(md.split('\n').findIndex((l) => l.startsWith('## 8.')))
      .find((l) => l.startsWith('| 1 |'));
    expect(r1).toBe('| 1 | 1 | 50.00 | 9.00 |');
  });

  it('chooses α on the selection split when every run has one, even where the validation split disagrees', () => {
    // validation ECE as above (AdaLS best at 0.5, AR-AdaLS at 1); selection ECE the other way round
    const withSelection = (e: PlannedExperiment) => {
      const s = sweptSummary(e);
      const alpha = e.config['method.alpha'] as number | undefined;
      if (alpha === undefined || (e.family !== 'adals' && e.family !== 'ar-adals')) return s;
      const best = e.family === 'adals' ? 1 : 0.5;
      return { ...s, selection: { ...s.final, reliability: undefined, ece: alpha === best ? 0.02 : 0.04 } };
    };
    const phase1 = planFor(preset);
    const all = phase1.map((planned) => ({ planned, summary: withSelection(planned) }));
    expect(chooseSwept(all, preset)).toMatchObject({ alphaAdaLS: 1, alphaArAdaLS: 0.5 });
    const md = buildResults({ ...baseInput, preset, experiments: all }).markdown;
    expect(md).toContain('AdaLS α sweep (mean selection-split ECE): α = 0.5: 4.00; α = 1: 2.00 → α = 1.');
    // one run without a selection split: the family falls back to validation for all its runs
    const mixed = all.map((x, i) =>
      i === all.findIndex((y) => y.planned.family === 'adals') ? { ...x, summary: sweptSummary(x.planned) } : x,
    );
    expect(chooseSwept(mixed, preset)).toMatchObject({ alphaAdaLS: 0.5, alphaArAdaLS: 0.5 });
  });
});

describe('the fashion-mnist plan', () => {
  it('holds out at least 300 update images per subset at R = 10 and 2,000 selection images, within the 60,000-image file', () => {
    const d = FASHION_MNIST.dataset;
    expect(d.validationSize / FASHION_MNIST.subsets).toBeGreaterThanOrEqual(300);
    expect(d.selectionSize).toBeGreaterThanOrEqual(2000);
    expect(d.trainLimit).toBeGreaterThanOrEqual(3000);
    expect(d.trainLimit + d.validationSize + d.selectionSize!).toBeLessThanOrEqual(60000);
  });

  it('has at least 5 seeds per single model, 3 per ensemble and 3 per R of the sweep, and ε down to 0.01', () => {
    const plan = planFor(FASHION_MNIST, { epsilon: 0.05, alphaAdaLS: 1, alphaArAdaLS: 0.5 });
    const seedsOf = (pred: (e: PlannedExperiment) => boolean) => new Set(plan.filter(pred).map((e) => e.seed)).size;
    for (const f of [
      'vanilla',
      'temperature-scaling',
      'adals',
      'ar-adals',
      'ar-adals-otf',
      'mixup',
      'ccat',
    ] as Family[])
      expect(
        seedsOf((e) => e.family === f),
        f,
      ).toBeGreaterThanOrEqual(5);
    for (const f of [
      'ens-vanilla',
      'ens-label-smoothing',
      'ens-adals',
      'ens-ar-adals',
      'ar-adals-of-ensemble',
    ] as Family[])
      expect(
        seedsOf((e) => e.family === f),
        f,
      ).toBeGreaterThanOrEqual(3);
    const rs = new Set(plan.filter((e) => e.family === 'r-sweep').map((e) => e.config['method.subsets']));
    for (const R of rs)
      expect(seedsOf((e) => e.family === 'r-sweep' && e.config['method.subsets'] === R)).toBeGreaterThanOrEqual(3);
    // R = 1 and R = 10 reuse AdaLS / AR-AdaLS runs of the sweep's seeds
    expect(FASHION_MNIST.rSeeds.every((s) => FASHION_MNIST.seeds.includes(s))).toBe(true);
    expect(Math.min(...FASHION_MNIST.lsEpsilons)).toBeLessThanOrEqual(0.01);
    for (const a of [0.1, 0.25, 0.5, 1]) expect(FASHION_MNIST.alphas).toContain(a);
    for (const eps of FASHION_MNIST.lsEpsilons)
      expect(
        seedsOf((e) => e.family === 'label-smoothing' && e.config['method.epsilon'] === eps),
      ).toBeGreaterThanOrEqual(5);
  });
});

describe('published summaries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arcal-summaries-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a summary written for a planned experiment is read back for the same spec and ignored for another', async () => {
    const [e] = planFor(SMOKE);
    const s = fabricate(e);
    await writeSummary(dir, s);
    expect(summaryPath(dir, e.dir)).toBe(join(dir, 'vanilla', 'seed=0.json'));
    const back = await readSummary(dir, e);
    expect(back?.final.ece).toBe(0.1);
    expect(back?.seed).toBe(0);
    expect(back?.method).toBe('vanilla');
    // the same spec with its keys in another order still matches; a changed setting does not
    const reordered = { ...e, spec: Object.fromEntries(Object.entries(e.spec).reverse()) };
    expect(await readSummary(dir, reordered)).toBeDefined();
    const changed = { ...e, spec: { ...e.spec, training: { ...(e.spec.training as object), epochs: 99 } } };
    expect(await readSummary(dir, changed)).toBeUndefined();
    expect(await readSummary(dir, { ...e, dir: 'vanilla/seed=7' })).toBeUndefined();
    // the same planned spec resolved with another default is another experiment
    expect(await readSummary(dir, e, s.resolvedSpec)).toBeDefined();
    const otherDefault = { ...(s.resolvedSpec as object), evaluation: { bins: 20 } };
    expect(await readSummary(dir, e, otherDefault)).toBeUndefined();
  });
});

describe('the parts of a reproduction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arcal-parts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const machine = { cpu: 'test CPU', cores: 2, memoryGb: 24, os: 'Linux', node: '20' };
  const part = (startedAt: string, wallSeconds: number, finished: string[], commit = 'a'.repeat(40)): PartRecord => ({
    commit,
    dirty: false,
    startedAt,
    updatedAt: startedAt.replace('T10', 'T11'),
    wallSeconds,
    finished,
    machine,
    backend: 'native',
    threads: 2,
  });

  it('a part rewrites its own record as it goes and later parts are appended in start order', async () => {
    await recordPart(dir, part('2026-12-07T10:00:00.000Z', 60, ['vanilla/seed=0']));
    await recordPart(dir, part('2026-12-07T10:00:00.000Z', 120, ['vanilla/seed=0', 'vanilla/seed=1']));
    await recordPart(dir, part('2026-12-08T10:00:00.000Z', 1800, ['mixup/seed=0'], 'b'.repeat(40)));
    const parts = await readParts(dir);
    expect(parts.map((p) => p.finished.length)).toEqual([2, 1]);
    // 120 s + 1,800 s = 0.533 h; two commits, three experiments
    const line = partsLine(parts);
    expect(line).toContain('2 parts');
    expect(line).toContain('3 experiments');
    expect(line).toContain('0.53 h');
    expect(line).toContain('commits aaaaaaa, bbbbbbb');
  });

  it('without a record the results say so instead of stating a wall time', async () => {
    expect(await readParts(join(dir, 'absent'))).toEqual([]);
    expect(partsLine([])).toMatch(/no record/i);
  });
});

describe('the ETA of the fashion-mnist plan', () => {
  it('adds each seed’s reference work once, to the first experiment of that seed that needs it', () => {
    const p = FASHION_MNIST;
    const plan = planFor(p);
    const costs = planCosts(p, plan);
    const attack = (n: number) => n * p.attack.params.steps * 0.6;
    const reference = p.training.epochs * p.dataset.trainLimit + attack(p.dataset.testLimit);
    const ranking = attack(p.dataset.trainLimit + p.dataset.validationSize);
    // the vanilla runs come first: each of the 5 seeds' first experiment pays the reference model and its test ranking
    for (const s of p.seeds)
      expect(costs.get(`vanilla/seed=${s}`)).toBe(costOf(p, plan.find((e) => e.seed === s)!) + reference);
    // AR-AdaLS (precomputed) pays the training and validation ranking once per seed, at its first α
    const ar = plan.filter((e) => e.family === 'ar-adals');
    const extra = ar.reduce((s, e) => s + costs.get(e.dir)! - costOf(p, e), 0);
    expect(extra).toBe(p.seeds.length * ranking);
    const total = [...costs.values()].reduce((a, b) => a + b, 0);
    const plain = plan.reduce((a, e) => a + costOf(p, e), 0);
    expect(total - plain).toBeCloseTo(p.seeds.length * (reference + ranking), 3);
  });
});

describe('the published reference rankings', () => {
  const root = mkdtempSync(join(tmpdir(), 'arcal-refs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };

  it('publishes the key and robustness files of each seed, not the model, and restores them where missing', async () => {
    const runs = join(root, 'runs');
    const data = join(root, 'data');
    write(join(runs, 'reference', 'seed-0', 'key.json'), '{"seed":0}');
    write(join(runs, 'reference', 'seed-0', 'robustness-test.json'), '{"norms":[1]}');
    write(join(runs, 'reference', 'seed-0', 'model', 'checkpoint.bin'), 'weights');
    write(join(runs, 'reference', 'seed-0', 'robustness-train.json.tmp-1'), 'half a file');
    expect(await publishReferences(runs, data)).toEqual(['seed-0/key.json', 'seed-0/robustness-test.json']);
    expect(existsSync(join(data, 'reference', 'seed-0', 'model'))).toBe(false);
    // nothing new: nothing copied; a changed file is published again
    expect(await publishReferences(runs, data)).toEqual([]);
    write(join(runs, 'reference', 'seed-0', 'robustness-test.json'), '{"norms":[2]}');
    expect(await publishReferences(runs, data)).toEqual(['seed-0/robustness-test.json']);

    // a fresh runs folder gets the published files; one it has already is left as it is
    const fresh = join(root, 'fresh');
    write(join(fresh, 'reference', 'seed-0', 'key.json'), '{"seed":0,"local":true}');
    expect(await restoreReferences(data, fresh)).toEqual(['seed-0/robustness-test.json']);
    expect(readFileSync(join(fresh, 'reference', 'seed-0', 'robustness-test.json'), 'utf8')).toBe('{"norms":[2]}');
    expect(readFileSync(join(fresh, 'reference', 'seed-0', 'key.json'), 'utf8')).toBe('{"seed":0,"local":true}');
    expect(await restoreReferences(join(root, 'absent'), fresh)).toEqual([]);
  });
});
