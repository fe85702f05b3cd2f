/** Studies: a grid of experiments submitted together; each grid point is an ordinary experiment row. */
import { randomUUID } from 'node:crypto';
import type { ExperimentStatus, Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';
import { type ExperimentRow, FINISHED, isUuid } from './experiments.repository.ts';
import { insertExperimentsWithJobs, STUDY_FIELDS, sql, transaction } from './sql.ts';

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

/** The study row; nothing when the project already used the key (a concurrent insert waits for the other's commit). */
const INSERT_STUDY = `
  INSERT INTO studies (id, project_id, name, document, points, estimate, idempotency_key, request_hash)
  VALUES ($1::uuid, $2::uuid, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8)
  ON CONFLICT (project_id, idempotency_key) DO NOTHING
  RETURNING ${STUDY_FIELDS}`;

export class StudiesRepository {
  constructor(private readonly db: Db) {}

  /**
   * Writes the study, one experiment per grid point and each experiment's first job rows (state `pending`) in
   * one transaction on the pool: the study row, then every experiment and job row in one multi-row statement
   * (the one a single submission uses). The caller enqueues after the commit. Returns `{ created: false }`
   * with the existing study, and nothing written, when the idempotency key was already used by this project
   * (also when a concurrent request with the key won the race). Experiments come back in grid order.
   */
  async createWithExperiments(
    input: NewStudy,
    experiments: NewStudyExperiment[],
    firstJobs: (experimentId: string) => JobRequest[],
  ): Promise<{ created: boolean; study: StudyRow; experiments: ExperimentRow[]; jobs: JobRequest[] }> {
    const studyId = randomUUID();
    // Ids chosen here keep the grid order without relying on the order rows come back in.
    const rows = experiments.map((e) => ({ id: randomUUID(), name: e.name, spec: e.spec, estimate: e.estimate }));
    const jobs = rows.flatMap((r) => firstJobs(r.id));
    const written = await transaction(this.db, async (client) => {
      const [study] = await sql<StudyRow>(client, 'arcal_insert_study', INSERT_STUDY, [
        studyId,
        input.projectId,
        input.name,
        JSON.stringify(input.document),
        JSON.stringify(input.points),
        JSON.stringify(input.estimate),
        input.idempotencyKey ?? null,
        input.requestHash ?? null,
      ]);
      if (!study) return null;
      const stored = await insertExperimentsWithJobs<ExperimentRow>(
        client,
        { projectId: input.projectId, studyId },
        rows,
        jobs,
      );
      return { study, stored };
    });
    if (written) {
      const byId = new Map(written.stored.map((r) => [r.id, r]));
      return { created: true, study: written.study, experiments: rows.map((r) => byId.get(r.id)!), jobs };
    }
    // Nothing inserted: only an idempotency key can conflict (a NULL key never does).
    const existing = input.idempotencyKey
      ? await this.findByIdempotencyKey(input.projectId, input.idempotencyKey)
      : null;
    if (!existing) throw new Error(`study ${studyId} was not written`);
    return { created: false, study: existing, experiments: [], jobs: [] };
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
    // On the pg pool like createWithExperiments: no interactive-transaction time limit for large studies.
    return transaction(this.db, async (client) => {
      const study = await client.query('SELECT id FROM studies WHERE id = $1::uuid FOR UPDATE', [id]);
      if (!study.rowCount) return null;
      const { rows } = await client.query<{ id: string; name: string; status: ExperimentStatus }>(
        `SELECT id::text AS id, name, status::text AS status FROM experiments
         WHERE study_id = $1::uuid ORDER BY created_at, id FOR UPDATE`,
        [id],
      );
      const unfinished = rows.filter((r) => !FINISHED.includes(r.status));
      if (unfinished.length) return { deleted: false as const, unfinished };
      await client.query('DELETE FROM experiments WHERE study_id = $1::uuid', [id]);
      await client.query('DELETE FROM studies WHERE id = $1::uuid', [id]);
      return { deleted: true as const, experimentIds: rows.map((r) => r.id) };
    });
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
