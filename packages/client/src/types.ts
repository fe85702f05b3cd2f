/** Response shapes of the /v1 API as the client sees them (the API's TypeBox schemas are the source). */
import type { ConfigurationSummary, ExperimentReport, Selection, StudyDocument } from '@arcal/contracts';

export type ExperimentStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelling' | 'cancelled';
export const FINISHED_STATUSES: readonly ExperimentStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface Links {
  self: string;
  events: string;
  metrics: string;
  logs: string;
  artifacts: string;
  cancel: string;
  retry: string;
}

export interface Estimate {
  seconds: number;
  budgetSeconds?: number;
  [k: string]: unknown;
}

export interface ExperimentView {
  id: string;
  name: string;
  status: ExperimentStatus;
  attempt: number;
  /** The resolved spec, every default filled in. */
  spec: any;
  estimate: Estimate;
  error: { code?: string; message?: string; [k: string]: unknown } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  links: Links;
}

export interface RunView {
  member: number;
  seed: number;
  status: string;
  final: unknown;
}

export interface ExperimentDetail extends ExperimentView {
  runs: RunView[];
  /** Stored once the experiment succeeded. */
  report: (ExperimentReport & ReportExtras) | null;
}

/** Sections the runner adds to a report when the spec asks for them (shift and OOD evaluation). */
export interface ReportExtras {
  shift?: {
    rows: Array<{
      corruption: string;
      severity: number;
      accuracy: number;
      ece: number;
      nll: number;
      variance?: number;
    }>;
    meanEceBySeverity: Array<{ severity: number; meanEce: number; corruptions: number }>;
    notApplicable?: Array<{ corruption: string; reason: string }>;
  };
  ood?: {
    dataset: string;
    source?: string;
    inCount: number;
    outCount: number;
    aurocMaxProb: number;
    aurocEntropy: number;
    meanEntropyIn?: number;
    meanEntropyOut?: number;
    histogramIn: Histogram;
    histogramOut: Histogram;
  };
}

export interface Histogram {
  edges: number[];
  counts: number[];
  density?: number[];
  outside?: number;
}

export interface Submitted {
  id: string;
  status: ExperimentStatus;
  estimate: Estimate;
  links: Links;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface MetricRow {
  member: number;
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  learningRate: number;
  valLoss: number | null;
  valAccuracy: number | null;
  valEce: number | null;
  softLabels: { pTrue: number[]; epsilon?: number[]; valConf?: number[]; valAcc?: number[] } | null;
  seconds: number;
}

export interface LogItem {
  id: string;
  at: string;
  level: string;
  job: string | null;
  message: string;
  data: unknown;
}

export interface ArtifactInfo {
  name: string;
  size: number;
  sha256: string;
  contentType: string;
}

export interface SessionInfo {
  project: string;
  csrfToken: string;
  expiresAt: string;
}

/** One server-sent event of /v1/experiments/{id}/events. */
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

// ---------------------------------------------------------------- studies

/** Experiments of a study by status. */
export type StudyCounts = Record<ExperimentStatus, number> & { total: number };

export interface StudyEstimate {
  /** Sum of the experiments' estimated CPU-seconds. */
  seconds: number;
  budgetSeconds: number;
  experiments: number;
  perExperiment: number[];
}

export interface StudyView {
  id: string;
  name: string;
  /**
   * From the experiments: queued until one starts, running while some are unfinished, then failed if any
   * failed, else cancelled if any was cancelled, else succeeded.
   */
  status: ExperimentStatus;
  counts: StudyCounts;
  /** The varied dot paths in document order (seed included). */
  varied: string[];
  estimate: StudyEstimate;
  createdAt: string;
  links: { self: string; cancel: string };
}

export interface StudyExperimentView {
  id: string;
  name: string;
  status: ExperimentStatus;
  seed: number;
  /** The varied values of this grid point, seed aside. */
  config: Record<string, unknown>;
  links: { self: string };
}

/**
 * The aggregation `arcal study` prints: mean ± sample std over seeds per configuration, and the selection, over
 * the experiments that have succeeded so far.
 */
export interface StudyReport {
  /** Some experiments are still queued or running: the numbers and the selection can change as more finish. */
  partial: boolean;
  /** Experiments aggregated so far (the succeeded ones). */
  included: number;
  /** Experiments in the study's grid. */
  expected: number;
  /** The same count as `included`. */
  succeeded: number;
  /** Experiments not aggregated: not finished yet, failed, cancelled or deleted. */
  missing: string[];
  configurations: ConfigurationSummary[];
  selection?: Selection;
  markdown: string;
}

export interface StudyDetail extends StudyView {
  document: StudyDocument;
  experiments: StudyExperimentView[];
  /** Once at least one experiment has succeeded; `partial` while others are unfinished. */
  report: StudyReport | null;
}

export interface StudySubmitted {
  id: string;
  status: ExperimentStatus;
  /** Experiment ids in grid order. */
  experiments: string[];
  estimate: StudyEstimate;
  links: { self: string; cancel: string };
}
