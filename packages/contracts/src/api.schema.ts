/**
 * The HTTP API's request and response shapes (TypeBox = JSON Schema). The API registers the named ones as
 * shared schemas (they become the OpenAPI document's components under their `$id`), serializes its answers
 * through them and types its routes by them; the client's types are their `Static<>`. A schema refers to
 * another named one through `ref`, never by nesting it, so that each `$id` is registered once.
 *
 * The wire format is older than these schemas: a response schema must list every field the API sends (an
 * unlisted one is dropped by the serializer unless the object allows additional properties), mark as optional
 * what older rows may lack, and use `Integer` only for values that are integers.
 */
import { type Static, Type as T, type TSchema } from '@sinclair/typebox';
import type { ExperimentReport, ReportExtras } from './report.ts';
import { ExperimentSpec } from './spec.schema.ts';
import { type StudyDocument, StudySpec } from './study.schema.ts';
import type { ConfigurationSummary, Selection } from './study-aggregate.ts';

export type { Static } from '@sinclair/typebox';

/** A reference to a named schema, typed as the schema it names. */
export function ref<S extends TSchema>(s: S) {
  if (!s.$id) throw new TypeError('ref() needs a schema with an $id');
  return T.Unsafe<Static<S>>(T.Ref(s.$id));
}
const nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()]);
const dateTime = (description?: string) => T.String({ format: 'date-time', ...(description ? { description } : {}) });

export const EXPERIMENT_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled'] as const;
export const FINISHED_STATUSES: readonly ExperimentStatus[] = ['succeeded', 'failed', 'cancelled'];
/** The status union without an `$id`, for parameters (which the OpenAPI document keeps inline). */
export const statusUnion = (options: { description?: string } = {}) =>
  T.Union(
    EXPERIMENT_STATUSES.map((s) => T.Literal(s)),
    options,
  );

export const ExperimentStatus = T.Union(
  EXPERIMENT_STATUSES.map((s) => T.Literal(s)),
  { $id: 'ExperimentStatus' },
);
export type ExperimentStatus = (typeof EXPERIMENT_STATUSES)[number];

export const Problem = T.Object(
  {
    code: T.String({ description: 'Stable error code (ErrorCodes)' }),
    message: T.String({ description: 'What went wrong, in words a user can act on' }),
    details: T.Array(T.Object({ path: T.String({ description: 'dot path of the field' }), message: T.String() }), {
      description: 'One entry per problem found in the input',
    }),
    requestId: T.String({ description: 'Also in the x-request-id header and the server’s logs' }),
    estimate: T.Optional(T.Unknown({ description: 'The cost estimate, when the budget refused the request' })),
  },
  { $id: 'Problem', additionalProperties: true, description: 'The body of every error answer' },
);

export const ExperimentLinks = T.Object(
  {
    self: T.String(),
    events: T.String(),
    metrics: T.String(),
    logs: T.String(),
    artifacts: T.String(),
    cancel: T.String(),
    retry: T.String(),
  },
  { $id: 'ExperimentLinks' },
);

export const Estimate = T.Object(
  {
    seconds: T.Number({ description: 'Estimated CPU-seconds on one worker' }),
    budgetSeconds: T.Optional(T.Number({ description: 'The service’s budget per experiment' })),
    flops: T.Optional(
      T.Object({ training: T.Number(), robustness: T.Number(), evaluation: T.Number(), total: T.Number() }),
    ),
    forwardFlopsPerExample: T.Optional(T.Number()),
    examples: T.Optional(T.Object({ train: T.Number(), validation: T.Number(), test: T.Number() })),
    memoryBytes: T.Optional(T.Number({ description: 'Peak memory of one worker process running a job of it' })),
    assumptions: T.Optional(T.Object({ workerFlops: T.Number(), note: T.String() })),
  },
  { $id: 'Estimate', additionalProperties: true, description: 'The cost estimate admission control used' },
);

const experimentFields = {
  id: T.String({ format: 'uuid' }),
  name: T.String(),
  status: ref(ExperimentStatus),
  attempt: T.Integer(),
  spec: T.Unsafe<any>(T.Unknown({ description: 'The resolved spec (every default filled in)' })),
  estimate: ref(Estimate),
  error: T.Unsafe<{ code?: string; message?: string; [k: string]: unknown } | null>(
    T.Unknown({ description: 'Why it failed: { code, message }, or null' }),
  ),
  createdAt: dateTime(),
  startedAt: nullable(dateTime()),
  finishedAt: nullable(dateTime()),
  links: ref(ExperimentLinks),
};

export const Experiment = T.Object(experimentFields, { $id: 'Experiment', additionalProperties: true });

export const Run = T.Object(
  {
    member: T.Integer(),
    seed: T.Integer(),
    status: T.String(),
    final: T.Unknown({ description: 'The member’s final metrics, once trained' }),
  },
  { $id: 'Run', description: 'One ensemble member' },
);

export const ExperimentDetail = T.Object(
  {
    ...experimentFields,
    runs: T.Array(ref(Run)),
    report: T.Unsafe<(ExperimentReport & ReportExtras) | null>(
      T.Unknown({ description: 'The report (as `arcal run` writes report.json), once succeeded; else null' }),
    ),
  },
  { $id: 'ExperimentDetail', additionalProperties: true },
);

export const ExperimentSubmitted = T.Object(
  { id: T.String(), status: ref(ExperimentStatus), estimate: ref(Estimate), links: ref(ExperimentLinks) },
  { $id: 'ExperimentSubmitted' },
);

const next = nullable(T.String({ description: 'Cursor of the next page; null on the last' }));
export const ExperimentPage = T.Object({ items: T.Array(ref(Experiment)), next }, { $id: 'ExperimentPage' });

export const MetricRow = T.Object(
  {
    member: T.Integer({ description: 'member index; -1 for the joint ensemble' }),
    epoch: T.Integer(),
    // null where the stored value is not finite (a diverged run's NaN loss), as JSON has no NaN
    trainLoss: nullable(T.Number()),
    trainAccuracy: nullable(T.Number()),
    learningRate: nullable(T.Number()),
    valLoss: nullable(T.Number()),
    valAccuracy: nullable(T.Number()),
    valEce: nullable(T.Number()),
    softLabels: T.Unsafe<{ pTrue: number[]; epsilon?: number[]; valConf?: number[]; valAcc?: number[] } | null>(
      T.Unknown({ description: 'Soft-label table after this epoch (adals / ar-adals), or null' }),
    ),
    seconds: nullable(T.Number()),
  },
  { $id: 'MetricRow' },
);

export const ExperimentMetrics = T.Object(
  { id: T.String(), epochs: T.Array(ref(MetricRow)) },
  { $id: 'ExperimentMetrics' },
);

export const LogItem = T.Object(
  {
    id: T.String({ description: 'a bigint, as a string' }),
    at: dateTime(),
    level: T.String(),
    job: nullable(T.String()),
    message: T.String(),
    data: T.Unknown(),
  },
  { $id: 'LogItem' },
);
export const LogPage = T.Object({ items: T.Array(ref(LogItem)), next }, { $id: 'LogPage' });

export const Artifact = T.Object(
  { name: T.String(), size: T.Integer(), sha256: T.String(), contentType: T.String() },
  { $id: 'Artifact' },
);
export const ArtifactList = T.Object({ items: T.Array(ref(Artifact)) }, { $id: 'ArtifactList' });

export const Session = T.Object(
  { project: T.String(), csrfToken: T.String(), expiresAt: dateTime() },
  { $id: 'Session' },
);

export const Health = T.Object({ ok: T.Boolean() }, { $id: 'Health' });
export const Readiness = T.Object({ ok: T.Boolean(), postgres: T.Boolean(), redis: T.Boolean() }, { $id: 'Readiness' });

// ---------------------------------------------------------------- studies

export const StudyLinks = T.Object(
  { self: T.String(), cancel: T.String({ description: 'POST: cancel every unfinished experiment' }) },
  { $id: 'StudyLinks' },
);

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
  { $id: 'StudyCounts', description: 'Experiments of the study by status' },
);

export const StudyEstimate = T.Object(
  {
    seconds: T.Number({ description: 'Sum of the experiments’ estimated CPU-seconds' }),
    budgetSeconds: T.Number(),
    experiments: T.Integer(),
    perExperiment: T.Array(T.Number(), { description: 'Estimated CPU-seconds of each experiment, in grid order' }),
  },
  { $id: 'StudyEstimate', additionalProperties: true },
);

const studyFields = {
  id: T.String({ format: 'uuid' }),
  name: T.String(),
  status: T.Unsafe<ExperimentStatus>(
    T.Ref('ExperimentStatus', {
      description:
        'From the experiments: queued until one starts, running while some are unfinished, then failed if any failed, else cancelled if any was cancelled, else succeeded',
    }),
  ),
  counts: ref(StudyCounts),
  varied: T.Array(T.String(), { description: 'The varied dot paths (seed included)' }),
  estimate: ref(StudyEstimate),
  createdAt: dateTime(),
  links: ref(StudyLinks),
};

export const Study = T.Object(studyFields, { $id: 'Study', additionalProperties: true });

export const StudyExperimentView = T.Object(
  {
    id: T.String({ format: 'uuid' }),
    name: T.String(),
    status: ref(ExperimentStatus),
    seed: T.Integer(),
    config: T.Record(T.String(), T.Unknown(), { description: 'Varied values of this grid point (seed aside)' }),
    links: T.Object({ self: T.String() }),
  },
  { $id: 'StudyExperiment' },
);

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
    configurations: T.Array(
      T.Unsafe<ConfigurationSummary>(
        T.Unknown({
          description:
            'config, seeds, experiments, metrics { "test.ece": { mean, std, n }, … } (std is the sample standard deviation, null for one seed)',
        }),
      ),
    ),
    selection: T.Optional(
      T.Unsafe<Selection>(
        T.Unknown({
          description:
            'The best configuration(s) by the study’s select rule, among the configurations with results (while `partial`, by the means so far)',
        }),
      ),
    ),
    markdown: T.String({ description: 'The table `arcal study` prints' }),
  },
  { $id: 'StudyReport', additionalProperties: false },
);

export const StudyDetail = T.Object(
  {
    ...studyFields,
    document: T.Unsafe<StudyDocument>(T.Unknown({ description: 'The study as submitted' })),
    experiments: T.Array(ref(StudyExperimentView)),
    report: T.Union([ref(StudyReport), T.Null()], {
      description:
        'Over the experiments that have succeeded so far (`partial` while others are unfinished); null until one has',
    }),
  },
  { $id: 'StudyDetail', additionalProperties: true },
);

export const StudySubmitted = T.Object(
  {
    id: T.String(),
    status: ref(ExperimentStatus),
    experiments: T.Array(T.String(), { description: 'Experiment ids, in grid order' }),
    estimate: ref(StudyEstimate),
    links: ref(StudyLinks),
  },
  { $id: 'StudySubmitted' },
);

export const StudyPage = T.Object({ items: T.Array(ref(Study)), next }, { $id: 'StudyPage' });

/**
 * The request bodies under short component names. The API documents them but validates with validateSpec and
 * the study validator (every problem with its dot path), never through these.
 */
export const ExperimentSpecBody = { ...ExperimentSpec, $id: 'ExperimentSpec' };
export const StudySpecBody = { ...StudySpec, $id: 'StudySpec' };

/** Every named schema, in an order where each one's references come before it. */
export const API_SCHEMAS: TSchema[] = [
  ExperimentSpecBody,
  StudySpecBody,
  Problem,
  ExperimentStatus,
  ExperimentLinks,
  Estimate,
  Experiment,
  Run,
  ExperimentDetail,
  ExperimentSubmitted,
  ExperimentPage,
  MetricRow,
  ExperimentMetrics,
  LogItem,
  LogPage,
  Artifact,
  ArtifactList,
  Session,
  Health,
  Readiness,
  StudyLinks,
  StudyCounts,
  StudyEstimate,
  Study,
  StudyExperimentView,
  StudyReport,
  StudyDetail,
  StudySubmitted,
  StudyPage,
];
