/** Reports, artifacts (objects of the artifact store, by key + sha256) and job logs. */
import { randomUUID } from 'node:crypto';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';
import { sql } from './sql.ts';

export type ArtifactRow = Prisma.ArtifactGetPayload<object>;
export type JobLogRow = Prisma.JobLogGetPayload<object>;

/** $1 id, $2 experiment, $3 name, $4 path (the object key), $5 sha256, $6 size, $7 content type. */
const RECORD_ARTIFACT = `
  WITH o AS (
    INSERT INTO stored_objects (key, sha256, size, content_type, updated_at) VALUES ($4, $5, $6, $7, now())
    ON CONFLICT (key) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size,
      content_type = EXCLUDED.content_type, updated_at = now()
  )
  INSERT INTO artifacts (id, experiment_id, name, path, sha256, size, content_type) VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (experiment_id, name) DO UPDATE SET path = EXCLUDED.path, sha256 = EXCLUDED.sha256, size = EXCLUDED.size,
    content_type = EXCLUDED.content_type`;

export class ResultsRepository {
  constructor(private readonly db: Db) {}

  async saveReport(experimentId: string, report: unknown): Promise<void> {
    const value = report as Prisma.InputJsonValue;
    await this.db.report.upsert({
      where: { experimentId },
      create: { experimentId, report: value },
      update: { report: value },
    });
  }

  async getReport(experimentId: string): Promise<unknown | null> {
    const row = await this.db.report.findUnique({ where: { experimentId } });
    return row?.report ?? null;
  }

  /**
   * Idempotent per (experiment, name). The file at `path` must be complete: the same statement records it as an
   * object of the artifact store (key = `path`), which is what lets the store, and downloads through it, read it.
   */
  async recordArtifact(
    experimentId: string,
    a: { name: string; path: string; sha256: string; size: number; contentType?: string },
  ): Promise<void> {
    await sql(this.db, 'arcal_record_artifact', RECORD_ARTIFACT, [
      randomUUID(),
      experimentId,
      a.name,
      a.path,
      a.sha256,
      a.size,
      a.contentType ?? 'application/octet-stream',
    ]);
  }

  listArtifacts(experimentId: string): Promise<ArtifactRow[]> {
    return this.db.artifact.findMany({ where: { experimentId }, orderBy: { name: 'asc' } });
  }

  getArtifact(experimentId: string, name: string): Promise<ArtifactRow | null> {
    return this.db.artifact.findUnique({ where: { experimentId_name: { experimentId, name } } });
  }

  async appendLog(
    experimentId: string,
    level: string,
    message: string,
    jobId?: string | null,
    data?: unknown,
  ): Promise<JobLogRow> {
    return this.db.jobLog.create({
      data: {
        experimentId,
        level,
        message,
        jobId: jobId ?? null,
        data: (data ?? undefined) as Prisma.InputJsonValue | undefined,
      },
    });
  }

  /** Logs after id `after` (exclusive), oldest first. */
  listLogs(experimentId: string, after: bigint, limit: number): Promise<JobLogRow[]> {
    return this.db.jobLog.findMany({ where: { experimentId, id: { gt: after } }, orderBy: { id: 'asc' }, take: limit });
  }
}
