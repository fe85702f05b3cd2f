/** Reports, artifacts (files under ARTIFACT_DIR, by relative path + sha256) and job logs. */
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';

export type ArtifactRow = Prisma.ArtifactGetPayload<object>;
export type JobLogRow = Prisma.JobLogGetPayload<object>;

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

  /** Idempotent per (experiment, name). */
  async recordArtifact(
    experimentId: string,
    a: { name: string; path: string; sha256: string; size: number; contentType?: string },
  ): Promise<void> {
    const data = {
      path: a.path,
      sha256: a.sha256,
      size: BigInt(a.size),
      contentType: a.contentType ?? 'application/octet-stream',
    };
    await this.db.artifact.upsert({
      where: { experimentId_name: { experimentId, name: a.name } },
      create: { experimentId, name: a.name, ...data },
      update: data,
    });
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
