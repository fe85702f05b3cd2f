/**
 * docs/RESULTS.md and its SVG figures from the per-experiment summaries of a reproduction run (summary.ts).
 * Pure: summaries in, markdown and the figures' Vega-Lite specs (@arcal/charts, the dashboard's and the CLI's
 * chart stack) out, so it can be checked on fabricated summaries and re-run on the published docs/data/ files
 * alone; `figuresToSvg` renders the specs. One function per table or figure group; each adds its markdown, its
 * figures and the paper's claims it can judge to a shared context, and the verdict section judges them together
 * (verdicts.ts: paired per-seed differences, Holm across the claims).
 */
import type { ChartSpec } from '@arcal/charts';
import { chartToSvg } from '@arcal/charts/render';
import { alphasOf, FAMILY_LABEL, type Family } from '../plan.ts';
import type { Judged } from '../verdicts.ts';
import { rSweepSection, softLabelSection } from './ar-adals.ts';
import type { Ctx } from './claims.ts';
import { table2Section, vanillaSection } from './clean.ts';
import { headerSection, setupSection } from './header.ts';
import { oodSection } from './ood.ts';
import { done, type ResultsInput } from './shared.ts';
import { fig3Section, table3Section, table4Section } from './shift.ts';
import { subsetSection, subsetVarianceSection } from './subsets.ts';
import { chooseSwept, selectLsEpsilon } from './sweep.ts';
import { leftOutSection, verdictSection } from './verdict.ts';

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

/** The figures as SVG documents, rendered as `arcal report --figures` renders its charts. */
export async function figuresToSvg(figures: Record<string, ChartSpec>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(figures)) out[name] = await chartToSvg(spec);
  return out;
}

export {
  ACCURACY_MARGIN,
  ENSEMBLES,
  type Finished,
  LEAST_ROBUST_SUBSETS,
  type Machine,
  type ResultsInput,
  SINGLE,
} from './shared.ts';
export { chooseSwept, selectLsEpsilon, selectSwept, sweepMetricLabel } from './sweep.ts';
