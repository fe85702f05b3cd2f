/**
 * Which expensive stages a resolved spec needs: pure predicates of the spec, here so that the API's admission
 * estimate and @arcal/core/plan (which re-exports them; the executors take every decision from the plan) read
 * the same rules.
 */
import type { ResolvedSpec } from './validate.ts';

/** AR-AdaLS with more than one subset trains on a robustness ranking. */
export const needsRanking = (spec: ResolvedSpec): boolean => spec.method.kind === 'ar-adals' && spec.method.subsets > 1;

/** Robustness recomputed during training (the members attack themselves every `everyEpochs` epochs). */
export const ranksOnTheFly = (spec: ResolvedSpec): boolean =>
  needsRanking(spec) && spec.method.robustness.source === 'on-the-fly';

/** Test subsets by robustness under the vanilla reference model. */
export const testOnReference = (spec: ResolvedSpec): boolean =>
  spec.evaluation.robustnessSubsets > 0 && spec.evaluation.robustness.reference === 'vanilla';

/**
 * The vanilla reference model is trained when it ranks training examples — precomputed, or the first ranking
 * of on-the-fly robustness (attacking the untrained network would give random subsets until the first re-rank)
 * — or defines the test subsets.
 */
export const needsReference = (spec: ResolvedSpec): boolean => needsRanking(spec) || testOnReference(spec);
