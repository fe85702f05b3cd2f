/** The Postgres side of every queued job: written before the BullMQ job exists, updated as it runs. */
import { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';

export type JobRow = Prisma.JobGetPayload<object>;

const rowOf = (j: JobRequest) => ({
  id: j.id,
  experimentId: j.experimentId,
  queue: j.kind.split(':')[0]!,
  name: j.kind.split(':')[1]!,
  payload: j.payload as Prisma.InputJsonValue,
});

export class JobsRepository {
  constructor(private readonly db: Db) {}

  /** Inserts rows in state `pending`; existing ids are left as they are (fan-outs and barriers are idempotent). */
  async createPending(jobs: JobRequest[]): Promise<void> {
    if (jobs.length) await this.db.job.createMany({ data: jobs.map(rowOf), skipDuplicates: true });
  }

  /** Marks rows handed to BullMQ; only rows still `pending` move. */
  async markQueued(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.db
      .$executeRaw`UPDATE jobs SET state = 'queued', bullmq_id = id, updated_at = now() WHERE id = ANY(${ids}) AND state = 'pending'`;
  }

  async markActive(id: string, attempt: number): Promise<void> {
    await this.db.job.updateMany({
      where: { id, state: { in: ['pending', 'queued', 'active', 'failed'] } },
      data: { state: 'active', attempts: attempt, startedAt: new Date(), error: Prisma.DbNull },
    });
  }

  async markCompleted(id: string, result?: unknown): Promise<void> {
    await this.db.job.updateMany({
      where: { id },
      data: {
        state: 'completed',
        finishedAt: new Date(),
        ...(result !== undefined ? { result: result as Prisma.InputJsonValue } : {}),
      },
    });
  }

  /** A cancelled row stays cancelled: its job fails because it was aborted. */
  async markFailed(
    id: string,
    error: { code?: string; message: string },
    final: boolean,
    attempts: number,
  ): Promise<void> {
    await this.db.job.updateMany({
      where: { id, state: { notIn: ['completed', 'cancelled'] } },
      data: {
        state: final ? 'failed' : 'queued',
        attempts,
        error: error as Prisma.InputJsonValue,
        ...(final ? { finishedAt: new Date() } : {}),
      },
    });
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
