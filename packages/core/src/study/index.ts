/**
 * Study expansion and aggregation live in @arcal/contracts (pure, no tensors), so the service can expand and
 * aggregate studies without loading TensorFlow.js; they are re-exported here for the inline runner.
 */
export {
  AGGREGATED_METRICS,
  type AggregatedMetric,
  aggregateStudy,
  type ConfigurationSummary,
  configKeyOf,
  expandStudy,
  formatStat,
  getPath,
  meanStd,
  reportMetric,
  type Selection,
  type SelectionGroup,
  type Stat,
  type StudyExperiment,
  selectBest,
  slugOf,
  studyMarkdown,
  withPath,
} from '@arcal/contracts';
