/** Response and parameter schemas (TypeBox = JSON Schema) for routes and the OpenAPI document. */
import { Type as T } from '@sinclair/typebox';

export const ErrorResponse = T.Object(
  {
    code: T.String({ description: 'Stable error code (ErrorCodes)' }),
    message: T.String(),
    details: T.Array(T.Object({ path: T.String({ description: 'dot path of the field' }), message: T.String() })),
    requestId: T.String(),
    estimate: T.Optional(T.Unknown()),
  },
  { $id: 'ErrorResponse', additionalProperties: true },
);
export const errorRef = T.Ref('ErrorResponse');

export const Links = T.Object({
  self: T.String(),
  events: T.String(),
  metrics: T.String(),
  logs: T.String(),
  artifacts: T.String(),
  cancel: T.String(),
  retry: T.String(),
});

export const Status = T.Union(
  ['queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled'].map((s) => T.Literal(s)),
);

export const ExperimentView = T.Object(
  {
    id: T.String({ format: 'uuid' }),
    name: T.String(),
    status: Status,
    attempt: T.Integer(),
    spec: T.Unknown({ description: 'The resolved spec (every default filled in)' }),
    estimate: T.Unknown(),
    error: T.Union([T.Unknown(), T.Null()]),
    createdAt: T.String({ format: 'date-time' }),
    startedAt: T.Union([T.String({ format: 'date-time' }), T.Null()]),
    finishedAt: T.Union([T.String({ format: 'date-time' }), T.Null()]),
    links: Links,
  },
  { additionalProperties: true },
);

export const Submitted = T.Object({ id: T.String(), status: Status, estimate: T.Unknown(), links: Links });

export const IdParams = T.Object({ id: T.String({ description: 'experiment id (uuid)' }) });

export const StudyLinks = T.Object({
  self: T.String(),
  cancel: T.String({ description: 'POST: cancel every unfinished experiment' }),
});

export const StudyCounts = T.Object(
  {
    total: T.Integer(),
    queued: T.Integer(),
    running: T.Integer(),
    succeeded: T.Integer(),
    failed: T.Integer(),
    cancelling: T.Integer(),
    cancelled: T.Integer(),
  },
  { description: 'Experiments of the study by status' },
);

const studyFields = {
  id: T.String({ format: 'uuid' }),
  name: T.String(),
  status: T.Union(Status.anyOf, {
    description:
      'From the experiments: queued until one starts, running while some are unfinished, then failed if any failed, else cancelled if any was cancelled, else succeeded',
  }),
  counts: StudyCounts,
  varied: T.Array(T.String(), { description: 'The varied dot paths (seed included)' }),
  estimate: T.Unknown({ description: 'Sum of the experiments’ estimates: { seconds, budgetSeconds, perExperiment }' }),
  createdAt: T.String({ format: 'date-time' }),
  links: StudyLinks,
};

export const StudyView = T.Object(studyFields, { additionalProperties: true });

export const StudyExperimentView = T.Object({
  id: T.String({ format: 'uuid' }),
  name: T.String(),
  status: Status,
  seed: T.Integer(),
  config: T.Record(T.String(), T.Unknown(), { description: 'Varied values of this grid point (seed aside)' }),
  links: T.Object({ self: T.String() }),
});

export const StudyReport = T.Object(
  {
    partial: T.Boolean({
      description:
        'Some experiments are still queued or running: the means, standard deviations and the selection cover the experiments that succeeded so far and can change as more finish',
    }),
    included: T.Integer({ description: 'Experiments aggregated so far (the succeeded ones)' }),
    expected: T.Integer({ description: 'Experiments in the study’s grid' }),
    succeeded: T.Integer({ description: 'Experiments aggregated (the same count as `included`)' }),
    missing: T.Array(T.String(), {
      description: 'Experiments not aggregated: not finished yet, failed, cancelled or deleted',
    }),
    configurations: T.Array(T.Unknown(), {
      description:
        'Per configuration: config, seeds, experiments, metrics { "test.ece": { mean, std, n }, … } (std is the sample standard deviation, null for one seed)',
    }),
    selection: T.Optional(
      T.Unknown({
        description:
          'The best configuration(s) by the study’s select rule, among the configurations with results (while `partial`, by the means so far)',
      }),
    ),
    markdown: T.String({ description: 'The table `arcal study` prints' }),
  },
  { additionalProperties: false },
);

export const StudyDetail = T.Object(
  {
    ...studyFields,
    document: T.Unknown({ description: 'The study as submitted' }),
    experiments: T.Array(StudyExperimentView),
    report: T.Union([StudyReport, T.Null()], {
      description:
        'Over the experiments that have succeeded so far (`partial` while others are unfinished); null until one has',
    }),
  },
  { additionalProperties: true },
);

export const StudySubmitted = T.Object({
  id: T.String(),
  status: Status,
  experiments: T.Array(T.String(), { description: 'Experiment ids, in grid order' }),
  estimate: T.Unknown(),
  links: StudyLinks,
});
