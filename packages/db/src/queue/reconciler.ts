/**
 * Keeps Postgres's job rows and BullMQ's jobs in step. The two can disagree after an outage of either (a job
 * failed for good while Postgres was down and its failure could not be recorded; Redis lost its last writes
 * in a failover), after a worker died between two writes, or when a job found its experiment finished and
 * did nothing. Each pass mends what it finds:
 *
 * | row                 | BullMQ job                  | mend                                                        |
 * |---------------------|-----------------------------|-------------------------------------------------------------|
 * | queued / active     | missing                     | live experiment: enqueue it again; finished: row cancelled  |
 * | queued / active     | completed                   | row completed with BullMQ's return value (cancelled if it skipped) |
 * | queued / active     | failed (no retries left)    | row failed; the experiment failed with the job's reason      |
 * | none open           | (experiment queued/running) | the experiment failed: nothing would ever move it on         |
 *
 * Rows changed within the grace period (experiments: within `stuckAfterMs`) are left alone, so that a transition in flight (a row just written,
 * a job between its BullMQ completion and its row update) is never mistaken for a disagreement. Every write
 * is a compare-and-set on the state it observed: a worker's own update always wins over the reconciler's, and
 * several workers may reconcile at once. Rows `pending` are the dispatcher's (`repairPending`).
 */
import type { Job } from 'bullmq';
import type { EventPublisher } from '../events.ts';
import type { ExperimentsRepository } from '../repositories/experiments.repository.ts';
import type { JobRow, JobsRepository } from '../repositories/jobs.repository.ts';
import { type JobKind, kindOf, type QueueName } from './catalog.ts';
import { jobOptions, type Queues } from './dispatcher.ts';

export interface ReconcilerOptions {
  /** Rows changed more recently than this are not touched [30 s]. */
  graceMs?: number;
  /**
   * A live experiment is failed as stuck only once none of its jobs has changed for this long [10 min]. Longer
   * than the grace period: after a Postgres outage every row looks old, and a worker may still be about to write
   * the next step's rows.
   */
  stuckAfterMs?: number;
  /** Announces experiments the reconciler fails (status events), when given. */
  events?: Pick<EventPublisher, 'publish'>;
  log?: (message: string, data: Record<string, unknown>) => void;
}

export interface ReconcileReport {
  checked: number;
  requeued: string[];
  completed: string[];
  failed: string[];
  cancelled: string[];
  /** Experiments failed because no job of theirs was left. */
  stuck: string[];
}

const OPEN_IN_BULLMQ = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'wait', 'paused']);

export class Reconciler {
  private readonly graceMs: number;

  constructor(
    private readonly repos: { jobs: JobsRepository; experiments: ExperimentsRepository },
    private readonly queues: Queues,
    private readonly opts: ReconcilerOptions = {},
  ) {
    this.graceMs = opts.graceMs ?? 30_000;
  }

  /** One pass over every open row older than the grace period, then over live experiments without open rows. */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, requeued: [], completed: [], failed: [], cancelled: [], stuck: [] };
    for (const row of await this.repos.jobs.findOpen(this.graceMs)) {
      report.checked++;
      const queue = this.queues[row.queue as QueueName];
      if (!queue) continue;
      const job = (await queue.getJob(row.bullmqId ?? row.id)) as Job | undefined;
      const state = job ? await job.getState() : 'missing';
      if (OPEN_IN_BULLMQ.has(state)) continue;
      if (state === 'completed') await this.completed(row, job!, report);
      else if (state === 'failed') await this.failed(row, job!, report);
      else await this.missing(row, report);
    }
    for (const e of await this.repos.jobs.experimentsWithoutOpenJobs(this.opts.stuckAfterMs ?? 600_000)) {
      const error = {
        code: 'STUCK',
        message: `no job of attempt ${e.attempt} is queued or running, so nothing would finish it; retry to resume from its checkpoints`,
      };
      if (await this.repos.experiments.transition(e.id, ['queued', 'running'], 'failed', error)) {
        report.stuck.push(e.id);
        this.opts.log?.('experiment with no open job marked failed', { experimentId: e.id });
        await this.opts.events?.publish(e.id, { type: 'status', status: 'failed', error });
      }
    }
    return report;
  }

  private async completed(row: JobRow, job: Job, report: ReconcileReport) {
    const value = job.returnvalue as { skipped?: unknown } | null | undefined;
    if (value && typeof value === 'object' && 'skipped' in value) {
      if (await this.repos.jobs.transition(row.id, row.state, 'cancelled', { result: value }))
        report.cancelled.push(row.id);
    } else if (await this.repos.jobs.transition(row.id, row.state, 'completed', { result: value ?? null })) {
      report.completed.push(row.id);
      this.opts.log?.('row completed from BullMQ', { job: row.id });
    }
  }

  private async failed(row: JobRow, job: Job, report: ReconcileReport) {
    const reason = job.failedReason || 'failed without a reason';
    if (!(await this.repos.jobs.transition(row.id, row.state, 'failed', { error: { message: reason } }))) return;
    report.failed.push(row.id);
    const error = { code: 'JOB_FAILED', message: `${row.queue}:${row.name} failed: ${reason}`, job: row.id };
    if (await this.repos.experiments.transition(row.experimentId, ['queued', 'running'], 'failed', error)) {
      this.opts.log?.('experiment failed from a failed BullMQ job', { job: row.id, experimentId: row.experimentId });
      await this.opts.events?.publish(row.experimentId, { type: 'status', status: 'failed', error });
    }
  }

  private async missing(row: JobRow, report: ReconcileReport) {
    const experiment = await this.repos.experiments.get(row.experimentId);
    const live = experiment && (experiment.status === 'queued' || experiment.status === 'running');
    if (!live) {
      const reason = `the queue no longer holds this job and the experiment is ${experiment?.status ?? 'deleted'}`;
      if (await this.repos.jobs.transition(row.id, row.state, 'cancelled', { result: { skipped: reason } }))
        report.cancelled.push(row.id);
      return;
    }
    // The queue lost the job (a Redis failover dropped it, or it was removed by hand): hand it over again under
    // the same id. Every handler's writes are idempotent, so a job that had partly run before is safe to repeat.
    const kind: JobKind = kindOf(row.queue, row.name);
    await this.queues[row.queue as QueueName].add(row.name, row.payload, jobOptions(kind, row.id));
    // The add is the mend, so it is reported whatever the row's compare-and-set below does: a worker may take the
    // job and mark its row active before that runs, and then the worker's update rightly wins.
    report.requeued.push(row.id);
    this.opts.log?.('job missing from BullMQ enqueued again', { job: row.id });
    await this.repos.jobs.transition(row.id, row.state, 'queued');
  }
}
