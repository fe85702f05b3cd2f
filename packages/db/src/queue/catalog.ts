/**
 * The job catalog: every queue, every job kind and its payload, in one place. The API enqueues from it,
 * the workers look their handlers up in it, and `arcal-worker` refuses to start when a kind it should
 * serve has no handler. Pure types and constants: no Redis, no Postgres.
 */

export const QUEUE_NAMES = ['attack', 'train', 'evaluate', 'orchestrate'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type Split = 'train' | 'validation' | 'test';

/** Payload of each job kind, keyed `queue:name`. Payloads carry ids only; the spec lives in Postgres. */
export interface JobPayloads {
  /** Plans the graph of an experiment (or resumes it after a retry). */
  'orchestrate:start': { experimentId: string };
  /** Barrier after every robustness shard: merges them, then fans out member training. */
  'orchestrate:merge-robustness': { experimentId: string };
  /** Joint ensembles: barrier after every member's epoch; updates the shared soft labels, enqueues the next epoch. */
  'orchestrate:epoch-barrier': { experimentId: string; epoch: number };
  /** Barrier after every member: enqueues evaluation. */
  'orchestrate:members-done': { experimentId: string };
  /** Writes the report and marks the experiment succeeded. */
  'orchestrate:finalize': { experimentId: string };
  /** A job that does nothing but record itself (measures per-job overhead). */
  'orchestrate:noop': { experimentId: string };
  /** The whole experiment inline (`runExperiment`). */
  'train:experiment': { experimentId: string };
  /** The vanilla reference model whose robustness defines the subsets. */
  'train:vanilla': { experimentId: string };
  /** One member of an independent ensemble, all epochs. */
  'train:member': { experimentId: string; member: number };
  /** One epoch of one member of a joint ensemble. */
  'train:member-epoch': { experimentId: string; member: number; epoch: number };
  /** Robustness radii of examples [start, end) of one split. */
  'attack:robustness-shard': { experimentId: string; split: Split; shard: number; start: number; end: number };
  /** Joint ensembles re-ranked on the fly: the averaged ensemble after `epoch` epochs attacked on train and validation. */
  'attack:rerank': { experimentId: string; epoch: number };
  /** Final metrics of the trained members. */
  'evaluate:evaluate': { experimentId: string };
}

export type JobKind = keyof JobPayloads;
export type JobNameOf<K extends JobKind> = K extends `${string}:${infer N}` ? N : never;

export const JOB_KINDS: JobKind[] = [
  'orchestrate:start',
  'orchestrate:merge-robustness',
  'orchestrate:epoch-barrier',
  'orchestrate:members-done',
  'orchestrate:finalize',
  'orchestrate:noop',
  'train:experiment',
  'train:vanilla',
  'train:member',
  'train:member-epoch',
  'attack:robustness-shard',
  'attack:rerank',
  'evaluate:evaluate',
];

export const queueOf = (kind: JobKind): QueueName => kind.split(':')[0] as QueueName;
export const nameOf = (kind: JobKind): string => kind.split(':')[1]!;
export const kindOf = (queue: string, name: string): JobKind => `${queue}:${name}` as JobKind;

/** A job to create: its deterministic id makes every fan-out and barrier idempotent. */
export interface JobRequest<K extends JobKind = JobKind> {
  id: string;
  kind: K;
  experimentId: string;
  payload: JobPayloads[K];
}

/**
 * Deterministic job ids. Joint member epochs are `{experiment}-m{i}-e{epoch}`; a retried experiment
 * (attempt > 1) gets `-r{attempt}` so that it never collides with the failed jobs of an earlier attempt.
 * BullMQ ids must not contain ':'.
 */
export const jobIds = {
  suffix: (attempt: number) => (attempt > 1 ? `-r${attempt}` : ''),
  start: (exp: string, attempt: number) => `${exp}-start${jobIds.suffix(attempt)}`,
  experiment: (exp: string, attempt: number) => `${exp}-experiment${jobIds.suffix(attempt)}`,
  vanilla: (exp: string, attempt: number) => `${exp}-vanilla${jobIds.suffix(attempt)}`,
  shard: (exp: string, split: Split, shard: number, attempt: number) =>
    `${exp}-rob-${split}-${shard}${jobIds.suffix(attempt)}`,
  merge: (exp: string, attempt: number) => `${exp}-merge${jobIds.suffix(attempt)}`,
  member: (exp: string, member: number, attempt: number) => `${exp}-m${member}${jobIds.suffix(attempt)}`,
  memberEpoch: (exp: string, member: number, epoch: number, attempt: number) =>
    `${exp}-m${member}-e${epoch}${jobIds.suffix(attempt)}`,
  rerank: (exp: string, epoch: number, attempt: number) => `${exp}-rerank-e${epoch}${jobIds.suffix(attempt)}`,
  epochBarrier: (exp: string, epoch: number, attempt: number) => `${exp}-barrier-e${epoch}${jobIds.suffix(attempt)}`,
  membersDone: (exp: string, attempt: number) => `${exp}-members-done${jobIds.suffix(attempt)}`,
  evaluate: (exp: string, attempt: number) => `${exp}-evaluate${jobIds.suffix(attempt)}`,
  finalize: (exp: string, attempt: number) => `${exp}-finalize${jobIds.suffix(attempt)}`,
};
