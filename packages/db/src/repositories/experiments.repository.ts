/** Experiments: the aggregate root of a submission (spec, status, estimate, shared soft labels). */

import { randomUUID } from 'node:crypto';
import { type ExperimentStatus, Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';
import { EXPERIMENT_FIELDS, insertExperimentsWithJobs, sql } from './sql.ts';

export type ExperimentRow = Prisma.ExperimentGetPayload<object>;

export const FINISHED: ExperimentStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface NewExperiment {
  projectId: string;
  name: string;
  spec: unknown;
  estimate: unknown;
  idempotencyKey?: string;
  requestHash?: string;
}

const BY_IDEMPOTENCY_KEY = `
  SELECT ${EXPERIMENT_FIELDS} FROM experiments WHERE project_id = $1::uuid AND idempotency_key = $2`;

export class ExperimentsRepository {
  constructor(private readonly db: Db) {}

  /**
   * Writes the experiment and its first job rows (state `pending`) in one statement (insertExperimentsWithJobs),
   * hence one transaction and one round trip; the caller enqueues after the commit. `firstJobs` receives the new id. Returns
   * `{ created: false }` with the existing row when the idempotency key was already used by this project
   * (also when a concurrent request with the same key won the race: its insert waits for the winner's commit).
   */
  async createWithJobs(
    input: NewExperiment,
    firstJobs: (experimentId: string) => JobRequest[],
  ): Promise<{ created: boolean; experiment: ExperimentRow; jobs: JobRequest[] }> {
    const id = randomUUID();
    const jobs = firstJobs(id);
    const rows = await insertExperimentsWithJobs<ExperimentRow>(
      this.db,
      { projectId: input.projectId, idempotencyKey: input.idempotencyKey, requestHash: input.requestHash },
      [{ id, name: input.name, spec: input.spec, estimate: input.estimate }],
      jobs,
    );
    if (rows[0]) return { created: true, experiment: rows[0], jobs };
    // Nothing inserted: only an idempotency key can conflict (a NULL key never does).
    const existing = input.idempotencyKey
      ? await this.findByIdempotencyKey(input.projectId, input.idempotencyKey)
      : null;
    if (!existing) throw new Error(`experiment ${id} was not written`);
    return { created: false, experiment: existing, jobs: [] };
  }

  async findByIdempotencyKey(projectId: string, idempotencyKey: string): Promise<ExperimentRow | null> {
    const rows = await sql<ExperimentRow>(this.db, 'arcal_experiment_by_key', BY_IDEMPOTENCY_KEY, [
      projectId,
      idempotencyKey,
    ]);
    return rows[0] ?? null;
  }

  /** The experiment if it belongs to `projectId` (another project's experiment reads as missing). */
  findForProject(id: string, projectId: string): Promise<ExperimentRow | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.experiment.findFirst({ where: { id, projectId } });
  }

  get(id: string): Promise<ExperimentRow | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.experiment.findUnique({ where: { id } });
  }

  /** How many of the project's experiments are queued, running or cancelling (the per-project cap counts these). */
  countUnfinished(projectId: string): Promise<number> {
    return this.db.experiment.count({ where: { projectId, status: { notIn: FINISHED } } });
  }

  /** Newest first; `cursor` is the last id of the previous page. */
  async list(
    projectId: string,
    opts: { status?: ExperimentStatus; limit: number; cursor?: string },
  ): Promise<{ items: ExperimentRow[]; next: string | null }> {
    const rows = await this.db.experiment.findMany({
      where: { projectId, ...(opts.status ? { status: opts.status } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: opts.limit + 1,
      ...(opts.cursor && isUuid(opts.cursor) ? { cursor: { id: opts.cursor }, skip: 1 } : {}),
    });
    const items = rows.slice(0, opts.limit);
    return { items, next: rows.length > opts.limit ? items[items.length - 1]!.id : null };
  }

  /**
   * Moves to `status` only from one of `from` (compare-and-set); returns whether it moved.
   * Finished states stamp `finishedAt`; `running` stamps `startedAt` once.
   */
  async transition(id: string, from: ExperimentStatus[], status: ExperimentStatus, error?: unknown): Promise<boolean> {
    const now = new Date();
    const r = await this.db.experiment.updateMany({
      where: { id, status: { in: from } },
      data: {
        status,
        ...(FINISHED.includes(status) ? { finishedAt: now } : {}),
        ...(status === 'queued' ? { finishedAt: null } : {}),
        ...(error !== undefined ? { error: error as Prisma.InputJsonValue } : {}),
      },
    });
    if (r.count && status === 'running') {
      await this.db.experiment.updateMany({ where: { id, startedAt: null }, data: { startedAt: now } });
    }
    return r.count > 0;
  }

  /** A retry: back to queued with a new attempt number (job ids of the new attempt differ). */
  async beginRetry(
    id: string,
    firstJobs: (attempt: number) => JobRequest[],
  ): Promise<{ attempt: number; jobs: JobRequest[] } | null> {
    return this.db.$transaction(async (tx) => {
      const row = await tx.experiment.findUnique({ where: { id } });
      if (!row || !['failed', 'cancelled'].includes(row.status)) return null;
      const attempt = row.attempt + 1;
      await tx.experiment.update({
        where: { id },
        data: { status: 'queued', attempt, error: Prisma.DbNull, finishedAt: null },
      });
      const jobs = firstJobs(attempt);
      await tx.job.createMany({
        data: jobs.map((j) => ({
          id: j.id,
          experimentId: j.experimentId,
          queue: j.kind.split(':')[0]!,
          name: j.kind.split(':')[1]!,
          payload: j.payload as Prisma.InputJsonValue,
        })),
        skipDuplicates: true,
      });
      return { attempt, jobs };
    });
  }

  async setSoftLabels(id: string, epoch: number, softLabels: unknown): Promise<void> {
    await this.db.experiment.update({
      where: { id },
      data: { softLabels: softLabels as Prisma.InputJsonValue, currentEpoch: epoch },
    });
  }

  /**
   * Joint ensembles: moves the shared soft-label table from epoch `from` to `to` (compare-and-set on the
   * current epoch); returns false when another barrier already moved it, so an update is applied once.
   */
  async advanceEpoch(id: string, from: number, to: number, softLabels: unknown): Promise<boolean> {
    const r = await this.db.experiment.updateMany({
      where: { id, currentEpoch: from },
      data: { softLabels: softLabels as Prisma.InputJsonValue, currentEpoch: to },
    });
    return r.count > 0;
  }

  async delete(id: string): Promise<void> {
    await this.db.experiment.delete({ where: { id } });
  }

  countByStatus(): Promise<Array<{ status: ExperimentStatus; _count: { _all: number } }>> {
    return this.db.experiment.groupBy({ by: ['status'], _count: { _all: true } }) as never;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);
