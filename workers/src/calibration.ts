/**
 * The pure-array calibration functions of @arcal/core that the joint epoch barrier needs on the orchestrate
 * queue, which runs in the worker's own process and must not load tfjs. The package's root entry loads the
 * tensor backend, so these come from core's calibration module directly (plain TypeScript over arrays, no
 * tfjs import); they are the same functions runExperiment calls, which keeps the barrier's numbers equal to
 * an inline run's.
 */
export {
  averageProbabilities,
  classificationSummary,
  subsetStats,
  updateSoftLabels,
} from '@arcal/core/calibration';
