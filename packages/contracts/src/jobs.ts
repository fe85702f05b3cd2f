/**
 * The job catalog: every queue, every job kind with its payload schema, in one list. The API and the workers
 * enqueue from it; the worker derives its handler tables and its sandboxed kinds from it and refuses to start
 * when a kind of a queue it serves has no handler. Queue names, job names, ids and payloads are a wire format
 * shared with jobs already waiting in Redis: a kind may be added, never renamed, and a payload may gain
 * optional fields only. Pure types and constants: no Redis, no Postgres.
 */
import { type Static, Type as T, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * The queues, and whether their jobs run in a sandboxed compute process (tfjs, memory-capped, killable) or in
 * the worker's own process (orchestration only: reads and writes rows, enqueues, never trains).
 */
export const QUEUES = {
  attack: { sandboxed: true },
  train: { sandboxed: true },
  evaluate: { sandboxed: true },
  orchestrate: { sandboxed: false },
} as const;
export type QueueName = keyof typeof QUEUES;
export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];

const experimentId = T.String({ minLength: 1, description: 'the experiment (uuid); the spec lives in Postgres' });
const index = (description: string) => T.Integer({ minimum: 0, description });
// Payloads stay open (extra properties allowed) so that a job queued by a newer version still runs here.
const payload = <P extends Record<string, TSchema>>(props: P, description: string) =>
  T.Object({ experimentId, ...props }, { description });

/** Every job kind, keyed `queue:name`, with its payload. Payloads carry ids only. */
export const JOB_CATALOG = {
  'orchestrate:start': payload({}, 'Plans the graph of an experiment (or resumes it after a retry).'),
  'orchestrate:merge-robustness': payload(
    {},
    'Barrier after every robustness shard: merges them, then fans out member training.',
  ),
  'orchestrate:epoch-barrier': payload(
    { epoch: index('the joint epoch every member has finished') },
    'Joint ensembles: barrier after every member’s epoch; updates the shared soft labels, enqueues the next epoch.',
  ),
  'orchestrate:members-done': payload({}, 'Barrier after every member: enqueues evaluation.'),
  'orchestrate:finalize': payload({}, 'Writes the report and marks the experiment succeeded.'),
  'orchestrate:noop': payload({}, 'Does nothing but record itself (measures per-job overhead).'),
  'train:experiment': payload({}, 'The whole experiment inline (`runExperiment`).'),
  'train:vanilla': payload({}, 'The vanilla reference model whose robustness defines the subsets.'),
  'train:member': payload({ member: index('ensemble member') }, 'One member of an independent ensemble, all epochs.'),
  'train:member-epoch': payload(
    { member: index('ensemble member'), epoch: index('epoch to train') },
    'One epoch of one member of a joint ensemble.',
  ),
  'attack:robustness-shard': payload(
    {
      split: T.Union(SPLITS.map((s) => T.Literal(s))),
      shard: index('shard number within the split'),
      start: index('first example (inclusive)'),
      end: index('last example (exclusive)'),
    },
    'Robustness radii of examples [start, end) of one split.',
  ),
  'attack:rerank': payload(
    { epoch: index('epochs trained before the ranking') },
    'Joint ensembles re-ranked on the fly: the averaged ensemble after `epoch` epochs attacked on train and validation.',
  ),
  'evaluate:evaluate': payload({}, 'Final metrics of the trained members.'),
} satisfies Record<`${QueueName}:${string}`, TObject>;

export type JobKind = keyof typeof JOB_CATALOG;
export type JobPayloads = { [K in JobKind]: Static<(typeof JOB_CATALOG)[K]> };
export type QueueOf<K extends JobKind> = K extends `${infer Q}:${string}` ? Q : never;
export type JobNameOf<K extends JobKind> = K extends `${string}:${infer N}` ? N : never;
/** Kinds that run in a sandboxed compute process, and those that run in the worker's own process. */
export type SandboxedKind = {
  [K in JobKind]: (typeof QUEUES)[QueueOf<K>]['sandboxed'] extends true ? K : never;
}[JobKind];
export type InProcessKind = Exclude<JobKind, SandboxedKind>;

export const JOB_KINDS = Object.keys(JOB_CATALOG) as JobKind[];
export const queueOf = (kind: JobKind): QueueName => kind.split(':')[0] as QueueName;
export const nameOf = (kind: JobKind): string => kind.split(':')[1]!;
export const kindOf = (queue: string, name: string): JobKind => `${queue}:${name}` as JobKind;
export const isJobKind = (kind: string): kind is JobKind => Object.hasOwn(JOB_CATALOG, kind);
export const isSandboxed = (kind: JobKind): kind is SandboxedKind => QUEUES[queueOf(kind)].sandboxed;
export const SANDBOXED_KINDS = JOB_KINDS.filter(isSandboxed);
export const SANDBOXED_QUEUES = QUEUE_NAMES.filter((q) => QUEUES[q].sandboxed);

/** What is wrong with a job's payload (`''` when nothing is): the first problem, with its property path. */
export function payloadProblem(kind: JobKind, data: unknown): string {
  const first = Value.Errors(JOB_CATALOG[kind], data).First();
  return first ? `${first.path || '/'}: ${first.message}` : '';
}

/**
 * The kinds of the given queues that a handler table lacks (`has` says whether a kind has a handler). The
 * worker calls this before it takes a job and refuses to start when the list is not empty.
 */
export function kindsWithoutHandler(queues: readonly string[], has: (kind: JobKind) => boolean): JobKind[] {
  return JOB_KINDS.filter((k) => queues.includes(queueOf(k)) && !has(k));
}

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
