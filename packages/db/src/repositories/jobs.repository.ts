/** The Postgres side of every queued job: written before the BullMQ job exists, updated as it runs. */
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';
import { type ExperimentRow, isUuid } from './experiments.repository.ts';
import { EXPERIMENT_FIELDS, JOBS_RECORD, jobsJson, sql } from './sql.ts';

export type JobRow = Prisma.JobGetPayload<object>;

const CREATE_PENDING = `
  INSERT INTO jobs (id, experiment_id, queue, name, payload, updated_at)
  SELECT x.id, x.experiment_id, x.queue, x.name, x.payload, now()
  FROM jsonb_to_recordset($1::jsonb) AS x${JOBS_RECORD}
  ON CONFLICT DO NOTHING`;

const MARK_QUEUED = `
  UPDATE jobs SET state = 'queued', bullmq_id = id, updated_at = now() WHERE id = ANY($1::text[]) AND state = 'pending'`;

const START = `
  WITH e AS (SELECT * FROM experiments WHERE id = $1::uuid),
  a AS (
    UPDATE jobs SET state = 'active', attempts = $3::int, started_at = now(), error = NULL, updated_at = now()
    WHERE id = $2 AND state IN ('pending', 'queued', 'active', 'failed')
      AND EXISTS (SELECT 1 FROM e WHERE status IN ('queued', 'running'))
      AND set_config('synchronous_commit', 'off', true) = 'off'
  )
  SELECT ${EXPERIMENT_FIELDS} FROM e`;

/**
 * A NULL result parameter keeps the stored result. With a fence ($3 attempts, $4 start time) only that start of
 * the job completes it: a late attempt, whose job another worker has started again since, changes nothing.
 */
const MARK_COMPLETED = `
  UPDATE jobs SET state = 'completed', finished_at = now(), updated_at = now(), result = COALESCE($2::jsonb, result)
  WHERE id = $1 AND ($3::int IS NULL OR (attempts = $3::int AND started_at = $4::timestamptz))
  RETURNING id`;

const WITHOUT_OPEN_JOBS = `
  SELECT e.id, e.attempt FROM experiments e
  WHERE e.status IN ('queued', 'running') AND e.updated_at < $1
    AND NOT EXISTS (
      SELECT 1 FROM jobs j WHERE j.experiment_id = e.id AND (j.state IN ('pending', 'queued', 'active') OR j.updated_at >= $1)
    )
  ORDER BY e.updated_at LIMIT $2`;

export class JobsRepository {
  constructor(private readonly db: Db) {}

  /** Inserts rows in state `pending` in one statement; existing ids are left as they are (fan-outs and barriers are idempotent). */
  async createPending(jobs: JobRequest[]): Promise<void> {
    if (jobs.length) await sql(this.db, 'arcal_create_pending', CREATE_PENDING, [jobsJson(jobs)]);
  }

  /** Marks rows handed to BullMQ; only rows still `pending` move. */
  async markQueued(ids: string[]): Promise<void> {
    if (ids.length) await sql(this.db, 'arcal_mark_queued', MARK_QUEUED, [ids]);
  }

  /**
   * The start of a job in one statement: reads its experiment and, only while that experiment is queued or
   * running, marks the job active (from pending, queued, active or failed: a retry or a stalled job starts
   * again) with its attempt number and start time. Returns the experiment row, or null when it does not exist.
   *
   * This one write commits asynchronously (`synchronous_commit` off for its own transaction only), so the job
   * does not wait for a WAL flush before it runs. The marker is advisory: BullMQ's lock says who runs a job.
   * A database crash within the WAL writer's delay can forget it (the row reads `queued` again), which the
   * durable writes around it survive: `markCompleted` flushes everything before it, and a job whose worker
   * also died is handed out again by BullMQ and marked anew.
   */
  async start(id: string, experimentId: string, attempt: number): Promise<ExperimentRow | null> {
    if (!isUuid(experimentId)) return null;
    const rows = await sql<ExperimentRow>(this.db, 'arcal_start_job', START, [experimentId, id, attempt]);
    return rows[0] ?? null;
  }

  /**
   * Durable (synchronous commit): the job returns to BullMQ as completed only after this. With `fence` (the
   * start this attempt made, as `ObjectsRepository.fenceOf` reads it) the row completes only while that start
   * is still the job's latest; false when it is not (or the row is missing).
   */
  async markCompleted(id: string, result?: unknown, fence?: { attempts: number; startedAt: Date }): Promise<boolean> {
    const rows = await sql(this.db, 'arcal_mark_completed', MARK_COMPLETED, [
      id,
      result === undefined ? null : JSON.stringify(result),
      fence?.attempts ?? null,
      fence?.startedAt ?? null,
    ]);
    return rows.length > 0;
  }

  /**
   * Records a failed attempt: the row `failed` when no retry is left, else `queued` again. A cancelled or
   * completed row stays as it is (a cancelled job fails because it was aborted). With `fence` (the start the
   * failed attempt made, as for `markCompleted`) only that start may record its failure: an attempt that fails
   * after its lock expired and another worker started the job again changes nothing, so it can neither mark the
   * newer attempt's row failed nor queued. Returns whether the row changed.
   */
  async markFailed(
    id: string,
    error: { code?: string; message: string },
    final: boolean,
    attempts: number,
    fence?: { attempts: number; startedAt: Date | string },
  ): Promise<boolean> {
    const r = await this.db.job.updateMany({
      where: {
        id,
        state: { notIn: ['completed', 'cancelled'] },
        ...(fence ? { attempts: fence.attempts, startedAt: new Date(fence.startedAt) } : {}),
      },
      data: {
        state: final ? 'failed' : 'queued',
        attempts,
        error: error as Prisma.InputJsonValue,
        ...(final ? { finishedAt: new Date() } : {}),
      },
    });
    return r.count > 0;
  }

  /**
   * A job that found its experiment finished (cancelled, failed or succeeded while the job waited) and did
   * nothing: its row is closed as `cancelled` with the reason, so it never reads `queued` again.
   */
  async markSkipped(id: string, reason: string): Promise<void> {
    await this.db.job.updateMany({
      where: { id, state: { in: ['pending', 'queued', 'active'] } },
      data: { state: 'cancelled', finishedAt: new Date(), result: { skipped: reason } },
    });
  }

  /**
   * Moves a row from `from` to `to` only while it is still in `from` (compare-and-set; the reconciler's writes
   * must lose against a worker's). Returns whether it moved.
   */
  async transition(
    id: string,
    from: JobRow['state'],
    to: JobRow['state'],
    extra: { error?: unknown; result?: unknown } = {},
  ): Promise<boolean> {
    const finished = to === 'completed' || to === 'failed' || to === 'cancelled';
    const r = await this.db.job.updateMany({
      where: { id, state: from },
      data: {
        state: to,
        ...(finished ? { finishedAt: new Date() } : {}),
        ...(extra.error !== undefined ? { error: extra.error as Prisma.InputJsonValue } : {}),
        ...(extra.result !== undefined ? { result: extra.result as Prisma.InputJsonValue } : {}),
      },
    });
    return r.count > 0;
  }

  /** Rows BullMQ should hold (`queued`, `active`) whose last change is older than `olderThanMs` (the reconciler's input). */
  findOpen(olderThanMs: number, limit = 1000): Promise<JobRow[]> {
    return this.db.job.findMany({
      where: { state: { in: ['queued', 'active'] }, updatedAt: { lt: new Date(Date.now() - olderThanMs) } },
      orderBy: { updatedAt: 'asc' },
      take: limit,
    });
  }

  /**
   * Experiments that are queued or running although none of their jobs is pending, queued or active, and none
   * changed in the last `olderThanMs`: nothing will ever move them on.
   */
  async experimentsWithoutOpenJobs(olderThanMs: number, limit = 100): Promise<Array<{ id: string; attempt: number }>> {
    return sql<{ id: string; attempt: number }>(this.db, 'arcal_without_open_jobs', WITHOUT_OPEN_JOBS, [
      new Date(Date.now() - olderThanMs),
      limit,
    ]);
  }

  /** Every unfinished job of an experiment becomes `cancelled`; returns their ids. */
  async cancelUnfinished(experimentId: string): Promise<JobRow[]> {
    const rows = await this.db.job.findMany({
      where: { experimentId, state: { in: ['pending', 'queued', 'active'] } },
    });
    await this.db.job.updateMany({
      where: { experimentId, state: { in: ['pending', 'queued', 'active'] } },
      data: { state: 'cancelled', finishedAt: new Date() },
    });
    return rows;
  }

  /** Rows written but never handed to the queue (a crash between commit and enqueue), older than `olderThanMs`. */
  findStalePending(olderThanMs: number, limit = 500): Promise<JobRow[]> {
    return this.db.job.findMany({
      where: { state: 'pending', createdAt: { lt: new Date(Date.now() - olderThanMs) } },
      orderBy: { createdAt: 'asc' },
      take: limit,
    });
  }

  get(id: string): Promise<JobRow | null> {
    return this.db.job.findUnique({ where: { id } });
  }

  listForExperiment(experimentId: string): Promise<JobRow[]> {
    return this.db.job.findMany({ where: { experimentId }, orderBy: { createdAt: 'asc' } });
  }

  /** Count of completed jobs among `ids` (barriers). */
  countCompleted(ids: string[]): Promise<number> {
    return this.db.job.count({ where: { id: { in: ids }, state: 'completed' } });
  }

  /** Seconds from start to finish of recently finished jobs, per queue (for /metrics). */
  async recentDurations(sinceMs: number): Promise<Array<{ queue: string; seconds: number }>> {
    const rows = await this.db.job.findMany({
      where: { state: 'completed', finishedAt: { gt: new Date(Date.now() - sinceMs) }, startedAt: { not: null } },
      select: { queue: true, startedAt: true, finishedAt: true },
      take: 10000,
    });
    return rows.map((r) => ({ queue: r.queue, seconds: (r.finishedAt!.getTime() - r.startedAt!.getTime()) / 1000 }));
  }
}
