/** Runs (one per ensemble member), their per-epoch metrics and the robustness shards. */
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../client.ts';

export type RunRow = Prisma.RunGetPayload<object>;
export type EpochMetricRow = Prisma.EpochMetricGetPayload<object>;

export interface EpochInput {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  learningRate: number;
  valLoss?: number | null;
  valAccuracy?: number | null;
  valEce?: number | null;
  softLabels?: unknown;
  record: unknown;
  seconds: number;
}

export class RunsRepository {
  constructor(private readonly db: Db) {}

  /** One run per member with its seed; existing runs are kept (retries reuse them). */
  async ensureRuns(experimentId: string, seeds: number[]): Promise<RunRow[]> {
    await this.db.run.createMany({
      data: seeds.map((seed, member) => ({ experimentId, member, seed })),
      skipDuplicates: true,
    });
    return this.db.run.findMany({ where: { experimentId }, orderBy: { member: 'asc' } });
  }

  /** One run, created when missing (also for pseudo-members: -1 reference model, -2 ensemble-level records). */
  ensureRun(experimentId: string, member: number, seed: number): Promise<RunRow> {
    return this.db.run.upsert({
      where: { experimentId_member: { experimentId, member } },
      create: { experimentId, member, seed },
      update: {},
    });
  }

  listForExperiment(experimentId: string): Promise<RunRow[]> {
    return this.db.run.findMany({ where: { experimentId }, orderBy: { member: 'asc' } });
  }

  getByMember(experimentId: string, member: number): Promise<RunRow | null> {
    return this.db.run.findUnique({ where: { experimentId_member: { experimentId, member } } });
  }

  async setFinal(runId: string, final: unknown, status: 'succeeded' | 'failed' = 'succeeded'): Promise<void> {
    await this.db.run.update({ where: { id: runId }, data: { final: final as Prisma.InputJsonValue, status } });
  }

  async setStatus(experimentId: string, status: RunRow['status']): Promise<void> {
    await this.db.run.updateMany({ where: { experimentId, status: { notIn: ['succeeded'] } }, data: { status } });
  }

  /** Idempotent per (run, epoch): a retried epoch overwrites what an interrupted attempt wrote. */
  async recordEpoch(runId: string, e: EpochInput): Promise<void> {
    const data = {
      trainLoss: e.trainLoss,
      trainAccuracy: e.trainAccuracy,
      learningRate: e.learningRate,
      valLoss: e.valLoss ?? null,
      valAccuracy: e.valAccuracy ?? null,
      valEce: e.valEce ?? null,
      softLabels: (e.softLabels ?? undefined) as Prisma.InputJsonValue | undefined,
      record: e.record as Prisma.InputJsonValue,
      seconds: e.seconds,
    };
    await this.db.epochMetric.upsert({
      where: { runId_epoch: { runId, epoch: e.epoch } },
      create: { runId, epoch: e.epoch, ...data },
      update: data,
    });
  }

  /** Epoch metrics of every run of an experiment, ordered by member then epoch. */
  async metricsForExperiment(experimentId: string): Promise<Array<EpochMetricRow & { member: number }>> {
    const rows = await this.db.epochMetric.findMany({
      where: { run: { experimentId } },
      include: { run: { select: { member: true } } },
      orderBy: [{ run: { member: 'asc' } }, { epoch: 'asc' }],
    });
    return rows.map(({ run, ...r }) => ({ ...r, member: run.member }));
  }

  /** Highest epoch recorded by each run (for resuming). */
  async lastEpochs(experimentId: string): Promise<Map<number, number>> {
    const rows = await this.metricsForExperiment(experimentId);
    const out = new Map<number, number>();
    for (const r of rows) out.set(r.member, Math.max(out.get(r.member) ?? -1, r.epoch));
    return out;
  }

  async recordShard(
    experimentId: string,
    s: { split: string; shard: number; start: number; end: number; path?: string; result?: unknown },
  ): Promise<void> {
    const data = {
      start: s.start,
      end: s.end,
      path: s.path ?? null,
      result: (s.result ?? undefined) as Prisma.InputJsonValue | undefined,
    };
    await this.db.robustnessShard.upsert({
      where: { experimentId_split_shard: { experimentId, split: s.split, shard: s.shard } },
      create: { experimentId, split: s.split, shard: s.shard, ...data },
      update: data,
    });
  }

  shardsForExperiment(experimentId: string) {
    return this.db.robustnessShard.findMany({ where: { experimentId }, orderBy: [{ split: 'asc' }, { shard: 'asc' }] });
  }
}
