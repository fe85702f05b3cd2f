/**
 * What `arcal-worker`'s main process does so that no job and no experiment is left hanging: it records a
 * failed job in Postgres (riding out an outage, since a failure that is never recorded leaves the experiment
 * `running` for good), words the failures of crashed compute processes so that a user can act on them, caps
 * the memory of each compute process, and reconciles job rows with BullMQ at start and periodically.
 */
import type { ForkOptions } from 'node:child_process';
import { Reconciler } from '@arcal/db';
import type { WorkerContext } from './context.ts';

/** Exit code of a compute process that went over its resident-memory cap (sandbox/compute.ts). */
export const MEMORY_CAP_EXIT = 86;

export interface FailedJob {
  id?: string;
  name: string;
  data: unknown;
  attemptsMade: number;
  opts: { attempts?: number };
}

/**
 * The message a user reads for a failed job. BullMQ reports a compute process that died as "Unexpected exit
 * code: <code> signal: <signal>"; the causes are told apart here.
 */
export function readableFailure(message: string, memoryCapMb: number): { message: string; memory: boolean } {
  const m = /Unexpected exit code: (\S+) signal: (\S+)/.exec(message);
  if (!m) return { message, memory: false };
  const [, code, signal] = m;
  if (code === String(MEMORY_CAP_EXIT))
    return {
      message: `the compute process went over its memory cap of ${memoryCapMb} MiB (ARCAL_COMPUTE_MEMORY_MB); the experiment is too large for this worker`,
      memory: true,
    };
  // V8 aborts (SIGABRT, or exit code 134 through a shell) when the heap limit set by --max-old-space-size is hit
  if (signal === 'SIGABRT' || code === '134')
    return {
      message: `the compute process ran out of memory (JavaScript heap cap ${memoryCapMb} MiB, ARCAL_COMPUTE_MEMORY_MB); the experiment is too large for this worker`,
      memory: true,
    };
  if (signal === 'SIGKILL' || code === '137')
    return {
      message: `the compute process was killed (SIGKILL: the kernel's out-of-memory killer or an operator); ${message}`,
      memory: false,
    };
  return { message: `the compute process exited unexpectedly (${message})`, memory: false };
}

/** BullMQ fork options of the compute processes: the JavaScript heap capped at `memoryMb`. */
export function computeForkOptions(base: ForkOptions | undefined, memoryMb: number): ForkOptions {
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--max-old-space-size'));
  return { ...(base ?? {}), execArgv: [...execArgv, `--max-old-space-size=${memoryMb}`] };
}

/**
 * Records a failed attempt: the row (final or to be retried) and, when final, the experiment with a readable
 * error and its status event. Postgres statements wait out an outage (the context's retrying pool); should
 * the outage outlast even that, the reconciler records the failure from BullMQ's state once Postgres is back.
 */
export async function recordFailure(
  ctx: WorkerContext,
  queue: string,
  job: FailedJob,
  error: { message: string },
  final: boolean,
  fence?: { attempts: number; startedAt: Date | string },
): Promise<void> {
  // With the failed attempt's start (fenceOfFailure): a late attempt, whose job another worker has started
  // again since, records nothing, and its failure does not fail the experiment the newer attempt works on.
  if (!(await ctx.repos.jobs.markFailed(job.id!, error, final, job.attemptsMade, fence)) && fence) return;
  // The row knows the experiment even when the payload is malformed.
  const experimentId =
    (await ctx.repos.jobs.get(job.id!))?.experimentId ?? (job.data as { experimentId?: string }).experimentId;
  if (final && experimentId) {
    const e = { code: 'JOB_FAILED', message: `${queue}:${job.name} failed: ${error.message}`, job: job.id };
    if (await ctx.repos.experiments.transition(experimentId, ['queued', 'running'], 'failed', e)) {
      await ctx.events.publish(experimentId, { type: 'status', status: 'failed', error: e });
    }
  }
}

/** Runs the reconciler now and every `intervalMs`; returns a stop function. Passes never overlap. */
export function startReconciler(
  ctx: WorkerContext,
  intervalMs: number,
  log: (level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void,
  graceMs = Math.min(30_000, intervalMs),
): () => void {
  const reconciler = new Reconciler(ctx.repos, ctx.dispatcher.queues, {
    graceMs,
    events: ctx.events,
    log: (message, data) => log('warn', message, data),
  });
  let running = false;
  const pass = async () => {
    if (running) return;
    running = true;
    try {
      const r = await reconciler.reconcile();
      const mended = r.requeued.length + r.completed.length + r.failed.length + r.cancelled.length + r.stuck.length;
      if (mended) log('info', 'reconciled job rows with BullMQ', { ...r });
    } catch (err) {
      log('warn', 'reconciliation pass failed; the next one retries', { err: (err as Error).message });
    } finally {
      running = false;
    }
  };
  void pass();
  const timer = setInterval(() => void pass(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
