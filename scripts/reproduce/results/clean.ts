/**
 * Clean test data: the vanilla model's fit and over-confidence (set-up checks) and the paper's Table 2.
 */
import { lineSeriesSpec } from '@arcal/charts';
import { formatStat } from '@arcal/contracts';
import { FAMILY_LABEL, type Family } from '../plan.ts';
import { pairedTTest } from '../stats.ts';
import { ALPHA } from '../verdicts.ts';
import { type Ctx, compareClaim, equivalenceClaim } from './claims.ts';
import { ENSEMBLES, fmtP, PP, pct, SINGLE, type Summary, statOf, table } from './shared.ts';
import { selectSwept, sweepMetricLabel } from './sweep.ts';

export function vanillaSection(ctx: Ctx): void {
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

export function table2Section(ctx: Ctx): void {
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
