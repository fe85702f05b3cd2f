/**
 * Response shapes of the /v1 API as the client sees them: the `Static<>` of the schemas in @arcal/contracts that
 * the API serializes its answers through and publishes in its OpenAPI document.
 */
import type {
  Artifact,
  Estimate as EstimateSchema,
  Experiment,
  ExperimentDetail as ExperimentDetailSchema,
  ExperimentLinks,
  ExperimentStatus as ExperimentStatusSchema,
  ExperimentSubmitted,
  LogItem as LogItemSchema,
  MetricRow as MetricRowSchema,
  Run,
  Session,
  Static,
  Study,
  StudyCounts as StudyCountsSchema,
  StudyDetail as StudyDetailSchema,
  StudyEstimate as StudyEstimateSchema,
  StudyExperimentView as StudyExperimentSchema,
  StudyReport as StudyReportSchema,
  StudySubmitted as StudySubmittedSchema,
} from '@arcal/contracts';

export { FINISHED_STATUSES, type Histogram, type ReportExtras } from '@arcal/contracts';

export type ExperimentStatus = Static<typeof ExperimentStatusSchema>;
export type Links = Static<typeof ExperimentLinks>;
export type Estimate = Static<typeof EstimateSchema>;
export type ExperimentView = Static<typeof Experiment>;
export type RunView = Static<typeof Run>;
export type ExperimentDetail = Static<typeof ExperimentDetailSchema>;
export type Submitted = Static<typeof ExperimentSubmitted>;
export type MetricRow = Static<typeof MetricRowSchema>;
export type LogItem = Static<typeof LogItemSchema>;
export type ArtifactInfo = Static<typeof Artifact>;
export type SessionInfo = Static<typeof Session>;
export type StudyCounts = Static<typeof StudyCountsSchema>;
export type StudyEstimate = Static<typeof StudyEstimateSchema>;
export type StudyView = Static<typeof Study>;
export type StudyExperimentView = Static<typeof StudyExperimentSchema>;
export type StudyReport = Static<typeof StudyReportSchema>;
export type StudyDetail = Static<typeof StudyDetailSchema>;
export type StudySubmitted = Static<typeof StudySubmittedSchema>;

/** One page of a list (ExperimentPage, LogPage, StudyPage in the OpenAPI document). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** One server-sent event of /v1/experiments/{id}/events (text/event-stream, outside the OpenAPI schemas). */
export type ExperimentStreamEvent =
  | {
      event: 'snapshot';
      id?: string;
      data: { experiment: ExperimentView; epochs: Array<{ member: number; epoch: number; record: any }> };
    }
  | { event: 'status'; id?: string; data: { type: 'status'; status: ExperimentStatus; error?: unknown } }
  | { event: 'epoch'; id?: string; data: { type: 'epoch'; member: number | 'ensemble'; epoch: number; record: any } }
  | { event: 'log'; id?: string; data: { type: 'log'; id: string; level: string; message: string; at: string } }
  | { event: 'job'; id?: string; data: { type: 'job'; jobId: string; kind: string; state: string } }
  | { event: 'report'; id?: string; data: { type: 'report' } }
  | { event: 'end'; id?: string; data: { status: ExperimentStatus } };
