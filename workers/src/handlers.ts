/**
 * Which job kinds run where, derived from the catalog in @arcal/contracts: the kinds of sandboxed queues run in
 * the compute processes, the others in the worker's own process. Importing the processors loads no tfjs
 * (they load @arcal/core when a job runs), so the worker can check the whole table before it takes a job.
 */
import {
  type InProcessKind,
  isSandboxed,
  JOB_KINDS,
  type JobKind,
  kindsWithoutHandler,
  type QueueName,
  type SandboxedKind,
} from '@arcal/contracts';
import { withHandoff } from './handoff.ts';
import { attackHandlers } from './processors/attack.processor.ts';
import { evaluateHandlers } from './processors/evaluate.processor.ts';
import { orchestrateHandlers } from './processors/orchestrate.processor.ts';
import { trainHandlers } from './processors/train.processor.ts';
import type { Handler, HandlerTable } from './run-job.ts';

export { SANDBOXED_KINDS, SANDBOXED_QUEUES } from '@arcal/contracts';

/** Every handler, by kind. */
export const HANDLERS: HandlerTable = {
  ...orchestrateHandlers,
  ...trainHandlers,
  ...attackHandlers,
  ...evaluateHandlers,
};

// Each with its hand-offs through the artifact store (a no-op where the store is the shared local folder).
const pick = <K extends JobKind>(keep: (k: JobKind) => k is K): HandlerTable =>
  Object.fromEntries(
    JOB_KINDS.filter(keep).flatMap((k) => {
      const h = HANDLERS[k] as Handler | undefined;
      return h ? [[k, withHandoff(k, h)]] : [];
    }),
  );

/** Kinds handled in the worker's own process (no tfjs). */
export const inProcess: HandlerTable = pick((k): k is InProcessKind => !isSandboxed(k));
/** Kinds handled by the sandboxed compute processes. */
export const sandboxedHandlers: HandlerTable = pick((k): k is SandboxedKind => isSandboxed(k));

/** Kinds of the given queues that `table` has no handler for. */
export function missingHandlers(queues: readonly QueueName[], table: HandlerTable = HANDLERS): JobKind[] {
  return kindsWithoutHandler(queues, (k) => typeof (table[k] as Handler | undefined) === 'function');
}

/**
 * Throws, with a message naming every kind, when a queue this worker serves has a kind without a handler: a
 * worker that took such jobs would fail each of them, so it must not start.
 */
export function assertHandlers(queues: readonly QueueName[], table: HandlerTable = HANDLERS): void {
  const missing = missingHandlers(queues, table);
  if (missing.length)
    throw new Error(
      `arcal-worker: no handler for job kind${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (queues ${queues.join(',')}); refusing to start`,
    );
}
