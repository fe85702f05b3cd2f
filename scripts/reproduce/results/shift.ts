/**
 * Distribution shift: the paper's Table 3 (ensembles), Fig. 3 (ECE by corruption severity) and Table 4
 * (pre-computed against on-the-fly robustness).
 */
import { boxPlotSpec } from '@arcal/charts';
import { formatStat, meanStd, type Stat } from '@arcal/contracts';
import type { Family } from '../plan.ts';
import { type Ctx, compareClaim, equivalenceClaim } from './claims.ts';
import { ENSEMBLES, EXP, PP, pct, SINGLE, type Summary, shiftMean, statOf, table } from './shared.ts';

export function table3Section(ctx: Ctx): void {
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

export function fig3Section(ctx: Ctx): void {
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

export function table4Section(ctx: Ctx): void {
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
