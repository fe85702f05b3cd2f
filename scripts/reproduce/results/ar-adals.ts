/**
 * AR-AdaLS's own knobs: the number of robustness subsets R (the paper's Fig. 5) and the soft labels' trajectory
 * during training (Algorithm 1, Eq. 3).
 */
import { lineSeriesSpec } from '@arcal/charts';
import { formatStat } from '@arcal/contracts';
import type { Ctx } from './claims.ts';
import {
  done,
  type Finished,
  finite,
  mean,
  meanText,
  PP,
  pct,
  type Summary,
  shiftMean,
  statOf,
  strip,
  table,
} from './shared.ts';

export function rSweepSection(ctx: Ctx): void {
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
export function softLabelSection(ctx: Ctx): void {
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
