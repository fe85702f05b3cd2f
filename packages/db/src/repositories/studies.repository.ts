/** Studies: a grid of experiments submitted together; each grid point is an ordinary experiment row. */
import { randomUUID } from 'node:crypto';
import type { ExperimentStatus, Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';
import { type ExperimentRow, FINISHED, isUuid } from './experiments.repository.ts';

export type StudyRow = Prisma.StudyGetPayload<object>;

export interface NewStudy {
  projectId: string;
  name: string;
  document: unknown;
  points: unknown;
  estimate: unknown;
  idempotencyKey?: string;
  requestHash?: string;
}

export interface NewStudyExperiment {
  name: string;
  spec: unknown;
  estimate: unknown;
}

const jobRow = (j: JobRequest) => ({
  id: j.id,
  experimentId: j.experimentId,
  queue: j.kind.split(':')[0]!,
  name: j.kind.split(':')[1]!,
  payload: j.payload as Prisma.InputJsonValue,
});

export class StudiesRepository {
  constructor(private readonly db: Db) {}

  /**
   * Writes the study, one experiment per grid point (in grid order) and each experiment's first job rows
   * (state `pending`) in one transaction; the caller enqueues after the commit. Returns `{ created: false }`
   * with the existing study when the idempotency key was already used by this project.
   */
  async createWithExperiments(
    input: NewStudy,
    experiments: NewStudyExperiment[],
    firstJobs: (experimentId: string) => JobRequest[],
  ): Promise<{ created: boolean; study: StudyRow; experiments: ExperimentRow[]; jobs: JobRequest[] }> {
    if (input.idempotencyKey) {
      const existing = await this.findByIdempotencyKey(input.projectId, input.idempotencyKey);
      if (existing) return { created: false, study: existing, experiments: [], jobs: [] };
    }
    try {
      return await this.db.$transaction(async (tx) => {
        const study = await tx.study.create({
          data: {
            projectId: input.projectId,
            name: input.name,
            document: input.document as Prisma.InputJsonValue,
            points: input.points as Prisma.InputJsonValue,
            estimate: input.estimate as Prisma.InputJsonValue,
            idempotencyKey: input.idempotencyKey ?? null,
            requestHash: input.requestHash ?? null,
          },
        });
        // Ids chosen here keep the grid order without relying on the order rows come back in.
        const ids = experiments.map(() => randomUUID());
        await tx.experiment.createMany({
          data: experiments.map((e, i) => ({
            id: ids[i]!,
            projectId: input.projectId,
            studyId: study.id,
            name: e.name,
            spec: e.spec as Prisma.InputJsonValue,
            estimate: e.estimate as Prisma.InputJsonValue,
          })),
        });
        const jobs = ids.flatMap((id) => firstJobs(id));
        await tx.job.createMany({ data: jobs.map(jobRow) });
        const rows = await tx.experiment.findMany({ where: { studyId: study.id } });
        const byId = new Map(rows.map((r) => [r.id, r]));
        return { created: true, study, experiments: ids.map((id) => byId.get(id)!), jobs };
      });
    } catch (err) {
      // Two concurrent requests with one idempotency key: the loser reads the winner's row.
      if (input.idempotencyKey && (err as { code?: string }).code === 'P2002') {
        const existing = await this.findByIdempotencyKey(input.projectId, input.idempotencyKey);
        if (existing) return { created: false, study: existing, experiments: [], jobs: [] };
      }
      throw err;
    }
  }

  findByIdempotencyKey(projectId: string, idempotencyKey: string): Promise<StudyRow | null> {
    return this.db.study.findUnique({ where: { projectId_idempotencyKey: { projectId, idempotencyKey } } });
  }

  /** The study if it belongs to `projectId` (another project's study reads as missing). */
  findForProject(id: string, projectId: string): Promise<StudyRow | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.study.findFirst({ where: { id, projectId } });
  }

  /** Newest first; `cursor` is the last id of the previous page. */
  async list(
    projectId: string,
    opts: { limit: number; cursor?: string },
  ): Promise<{ items: StudyRow[]; next: string | null }> {
    const rows = await this.db.study.findMany({
      where: { projectId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: opts.limit + 1,
      ...(opts.cursor && isUuid(opts.cursor) ? { cursor: { id: opts.cursor }, skip: 1 } : {}),
    });
    const items = rows.slice(0, opts.limit);
    return { items, next: rows.length > opts.limit ? items[items.length - 1]!.id : null };
  }

  /** The study's experiments that still exist (one statement created them: order them by the study's points). */
  experiments(studyId: string): Promise<ExperimentRow[]> {
    return this.db.experiment.findMany({ where: { studyId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  /**
   * Deletes the study with its experiments (their runs, metrics, jobs, reports, artifact rows and logs go with
   * them by cascade) in one transaction, and only when every experiment has finished. The study's experiment
   * rows are locked first, so a retry cannot requeue one in between. Returns the ids of the deleted
   * experiments; or the unfinished ones, with nothing deleted; or null when there is no such study.
   */
  async deleteIfFinished(
    id: string,
  ): Promise<
    | { deleted: true; experimentIds: string[] }
    | { deleted: false; unfinished: Array<{ id: string; name: string; status: ExperimentStatus }> }
    | null
  > {
    if (!isUuid(id)) return null;
    return this.db.$transaction(
      async (tx) => {
        const study = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id::text AS id FROM studies WHERE id = ${id}::uuid FOR UPDATE`;
        if (!study.length) return null;
        const rows = await tx.$queryRaw<Array<{ id: string; name: string; status: ExperimentStatus }>>`
        SELECT id::text AS id, name, status::text AS status FROM experiments
        WHERE study_id = ${id}::uuid ORDER BY created_at, id FOR UPDATE`;
        const unfinished = rows.filter((r) => !FINISHED.includes(r.status));
        if (unfinished.length) return { deleted: false as const, unfinished };
        await tx.experiment.deleteMany({ where: { studyId: id } });
        await tx.study.delete({ where: { id } });
        return { deleted: true as const, experimentIds: rows.map((r) => r.id) };
      },
      // Up to 256 experiments with every epoch row they recorded: more than Prisma's 5 s default may be needed.
      { timeout: 60_000 },
    );
  }

  /** Experiment statuses of each study, counted (for lists, without reading every experiment). */
  async statusCounts(studyIds: string[]): Promise<Map<string, Partial<Record<ExperimentStatus, number>>>> {
    const out = new Map<string, Partial<Record<ExperimentStatus, number>>>(studyIds.map((id) => [id, {}]));
    if (!studyIds.length) return out;
    const groups = (await this.db.experiment.groupBy({
      by: ['studyId', 'status'],
      where: { studyId: { in: studyIds } },
      _count: { _all: true },
    } as never)) as unknown as Array<{ studyId: string | null; status: ExperimentStatus; _count: { _all: number } }>;
    for (const g of groups) if (g.studyId) out.get(g.studyId)![g.status] = g._count._all;
    return out;
  }
}
