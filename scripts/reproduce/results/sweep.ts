/**
 * Which swept value (label smoothing's ε, AdaLS's and AR-AdaLS's α) the sweeps chose: the one with the lowest mean
 * ECE over seeds.
 */
import { aggregateStudy, type ExperimentReport, selectBest } from '@arcal/contracts';
import type { Chosen, Family, Preset } from '../plan.ts';
import { done, type Finished } from './shared.ts';

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

export type SweepMetric = 'selection.ece' | 'validation.ece';
export const selectionLabel = (p: Preset): string =>
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
