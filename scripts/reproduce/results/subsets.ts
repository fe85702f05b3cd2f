/**
 * Accuracy, confidence, ECE and predictive variance by adversarial-robustness subset (the paper's Figs. 1 and 2).
 */
import { lineSeriesSpec } from '@arcal/charts';
import type { Family } from '../plan.ts';
import type { Claim } from '../verdicts.ts';
import { type Ctx, compareClaim, trendClaim } from './claims.ts';
import {
  bySubsetSeries,
  EXP,
  EXP_PER_SUBSET,
  finite,
  LEAST_ROBUST_SUBSETS,
  mean,
  PP,
  PP_PER_SUBSET,
  pct,
  type Summary,
  statOf,
  table,
} from './shared.ts';

export function subsetSection(ctx: Ctx): void {
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
export function confidenceAboveAccuracyClaim(ctx: Ctx): Claim {
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

export function subsetVarianceSection(ctx: Ctx): void {
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
