/**
 * The frame around every handler: refuse unknown input (UnrecoverableError), skip experiments that were
 * cancelled or have ended (closing the job's row as cancelled), mark the job row active (in the same statement that reads the experiment), run,
 * record the result in Postgres, then return so that BullMQ completes the job. A crash anywhere before the return leaves the job to be retried; every
 * handler's writes are idempotent upserts, so a retry overwrites rather than duplicates.
 */
import { ArcalError, type JobKind, type JobPayloads, kindOf, payloadProblem } from '@arcal/contracts';
import type { JobFence } from '@arcal/db';
import { UnrecoverableError } from 'bullmq';
import type { WorkerContext } from './context.ts';
import { StaleWriterError } from './stale-writer.ts';

export interface JobLike {
  id?: string;
  name: string;
  queueName: string;
  data: unknown;
  attemptsMade: number;
}

export interface HandlerArgs<K extends JobKind> {
  ctx: WorkerContext;
  payload: JobPayloads[K];
  job: JobLike;
  signal?: AbortSignal;
  /** The experiment row (status queued or running). */
  experiment: NonNullable<Awaited<ReturnType<WorkerContext['repos']['experiments']['get']>>>;
}

export type Handler<K extends JobKind = JobKind> = (args: HandlerArgs<K>) => Promise<unknown>;
export type HandlerTable = Partial<{ [K in JobKind]: Handler<K> }>;

/** Input errors that retrying cannot fix become UnrecoverableError; everything else may be retried. */
export function classify(err: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted) return new UnrecoverableError('cancelled');
  if (err instanceof UnrecoverableError) return err;
  if (
    err instanceof ArcalError &&
    ['INVALID_SPEC', 'INVALID_INPUT', 'DATA_NOT_FOUND', 'DATA_CORRUPT', 'NOT_IMPLEMENTED'].includes(err.code)
  ) {
    return new UnrecoverableError(`${err.code}: ${err.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Fault injection for the service's tests: with `ARCAL_FAULT_PAUSE_JOBS` (a regular expression over job ids)
 * set, the first attempt of a matching job waits `ARCAL_FAULT_PAUSE_MS` (default 3000) after it has started and
 * before it does any work, so a test can kill its worker while the job is certainly running. Unset in every
 * other use, where it costs one environment lookup per job.
 */
async function faultPause(job: JobLike): Promise<void> {
  const pattern = process.env.ARCAL_FAULT_PAUSE_JOBS;
  if (!pattern || !job.id || job.attemptsMade > 0 || !new RegExp(pattern).test(job.id)) return;
  const ms = Number(process.env.ARCAL_FAULT_PAUSE_MS ?? 3000);
  await new Promise((r) => setTimeout(r, Number.isFinite(ms) ? ms : 3000));
}

/**
 * Fault injection for the fault suite: with `ARCAL_FAULT_HOLD_AFTER_EPOCH=e` set, the first attempt of a job
 * whose id matches `ARCAL_FAULT_HOLD_JOBS` (a regular expression; every job when unset) stops for
 * `ARCAL_FAULT_HOLD_MS` (default 5000) right after epoch e is checkpointed and before its record is stored,
 * after saying so on stderr: a test then knows that the run is mid-way, with a checkpoint behind it and epochs
 * ahead, whatever the machine's speed. It blocks the compute process outright (as a long training step would);
 * the worker's own process keeps the job's lock. Unset in every other use.
 */
export function faultHold(job: JobLike, record: { epoch: number; member: unknown }): void {
  const at = process.env.ARCAL_FAULT_HOLD_AFTER_EPOCH;
  if (!at || Number(at) !== record.epoch || job.attemptsMade > 0 || record.member === -1) return;
  const pattern = process.env.ARCAL_FAULT_HOLD_JOBS;
  if (pattern && !new RegExp(pattern).test(job.id ?? '')) return;
  const ms = Number(process.env.ARCAL_FAULT_HOLD_MS ?? 5000);
  process.stderr.write(`fault hold: job ${job.id} after epoch ${record.epoch} for ${ms} ms\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number.isFinite(ms) ? ms : 5000);
}

/**
 * `ctx` whose `markCompleted` of job `id` completes the row only while this start (read right after `start`
 * marked it) is still the job's latest: an attempt that returns after its lock expired and another worker
 * started the job again must not mark the row completed under the newer attempt (a fan-in would then count a
 * job whose results are still being written).
 */
function fencedCompletion(ctx: WorkerContext, id: string, fence: JobFence | null): WorkerContext {
  if (!fence) return ctx;
  const base = ctx.repos.jobs;
  const jobs = Object.create(base) as WorkerContext['repos']['jobs'];
  jobs.markCompleted = async (jobId, result, f) => {
    if (jobId !== id) return base.markCompleted(jobId, result, f);
    if (!(await base.markCompleted(jobId, result, f ?? fence))) throw new StaleWriterError(id, null);
    return true;
  };
  return { ...ctx, repos: { ...ctx.repos, jobs } };
}

export async function runJob(
  ctx: WorkerContext,
  handlers: HandlerTable,
  job: JobLike,
  signal?: AbortSignal,
): Promise<unknown> {
  const kind = kindOf(job.queueName, job.name);
  const handler = handlers[kind] as Handler | undefined;
  if (!handler) throw new UnrecoverableError(`no handler for job kind ${kind} in this process`);
  const payload = job.data as { experimentId?: unknown };
  if (!payload || typeof payload.experimentId !== 'string')
    throw new UnrecoverableError(`job ${job.id} has no experimentId`);
  const problem = payloadProblem(kind, payload);
  if (problem) throw new UnrecoverableError(`job ${job.id} (${kind}) has a malformed payload: ${problem}`);
  // One statement reads the experiment and marks the row active (only while the experiment is live).
  const experiment = job.id
    ? await ctx.repos.jobs.start(job.id, payload.experimentId, job.attemptsMade + 1)
    : await ctx.repos.experiments.get(payload.experimentId);
  if (!experiment) throw new UnrecoverableError(`experiment ${payload.experimentId} does not exist (deleted?)`);
  if (experiment.status !== 'queued' && experiment.status !== 'running') {
    // A job queued around a cancel (or after its experiment ended otherwise) does nothing; its row is closed
    // so that it never reads `queued` for good.
    const skipped = `experiment is ${experiment.status}`;
    if (job.id) await ctx.repos.jobs.markSkipped(job.id, skipped);
    return { skipped };
  }
  await faultPause(job);
  let fence: JobFence | null = null;
  try {
    fence = job.id ? await ctx.repos.objects.fenceOf(job.id) : null;
    const jobCtx = job.id ? fencedCompletion(ctx, job.id, fence) : ctx;
    const result = await handler({ ctx: jobCtx, payload: payload as never, job, signal, experiment });
    if (job.id) await jobCtx.repos.jobs.markCompleted(job.id, result ?? null);
    return result ?? null;
  } catch (err) {
    const e = classify(err, signal);
    // The start this attempt made travels with its failure (an own property: BullMQ copies those from a compute
    // process), so the main process records the failure only while that start is the job's latest.
    if (fence) (e as Error & { fence?: unknown }).fence = { attempts: fence.attempts, startedAt: fence.startedAt };
    throw e;
  }
}

/** The fence a failed attempt's error carries (see runJob), or undefined. */
export function fenceOfFailure(err: unknown): { attempts: number; startedAt: Date | string } | undefined {
  const f = (err as { fence?: { attempts?: unknown; startedAt?: unknown } } | null)?.fence;
  if (!f || typeof f.attempts !== 'number') return undefined;
  if (!(f.startedAt instanceof Date) && typeof f.startedAt !== 'string') return undefined;
  return { attempts: f.attempts, startedAt: f.startedAt };
}
