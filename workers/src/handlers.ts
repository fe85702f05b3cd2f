/** Which job kinds run where. `arcal-worker` refuses to start if a queue it serves has a kind without a handler. */
import { JOB_KINDS, type JobKind, type QueueName, queueOf } from '@arcal/db';
import { orchestrateHandlers } from './processors/orchestrate.processor.ts';
import type { HandlerTable } from './run-job.ts';

/** Kinds handled in the worker's own process (no tfjs). */
export const inProcess: HandlerTable = { ...orchestrateHandlers };

/** Kinds handled by the sandboxed compute processes, listed without importing them (that would load tfjs here). */
export const SANDBOXED_KINDS: JobKind[] = [
  'train:experiment',
  'train:vanilla',
  'train:member',
  'train:member-epoch',
  'attack:robustness-shard',
  'attack:rerank',
  'evaluate:evaluate',
];

/** Kinds of the catalog that no processor implements yet; a job of such a kind fails as unrecoverable. */
export function missingHandlers(queues: QueueName[]): JobKind[] {
  return JOB_KINDS.filter((k) => queues.includes(queueOf(k)) && !(k in inProcess) && !SANDBOXED_KINDS.includes(k));
}

/** Queues whose jobs run in sandboxed processes. */
export const SANDBOXED_QUEUES: QueueName[] = ['train', 'attack', 'evaluate'];
