/**
 * Out-of-distribution data (the paper's Fig. 4): entropy histograms and AUROC.
 */
import { stepHistogramSpec } from '@arcal/charts';
import { formatStat } from '@arcal/contracts';
import type { Family } from '../plan.ts';
import { type Ctx, compareClaim } from './claims.ts';
import { AUROC, ENSEMBLES, type OodSection, oodOf, SINGLE, statOf, table } from './shared.ts';

export function oodSection(ctx: Ctx): void {
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
