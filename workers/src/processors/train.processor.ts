/**
 * The train queue's compute handlers. They load tfjs through @arcal/core and therefore run only inside
 * sandboxed processes (see sandbox/compute.ts), never on the worker's main event loop, so BullMQ's
 * lock renewal cannot stall behind a training step. Each calls core's trainMember with exactly the
 * arguments runExperiment uses, so the service and an inline run give the same numbers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from '@arcal/contracts';
import { checkpointEpochOf, readCheckpointFiles } from '@arcal/core/checkpoint-file';
import {
  initialTable,
  KEYS,
  memberSeeds,
  ranksOnTheFly,
  referenceSeed,
  referenceTraining,
  reRankAt,
  singleSubsetRanking,
} from '@arcal/core/plan';
import { type JobRequest, jobIds } from '@arcal/db';
import { UnrecoverableError } from 'bullmq';
import { isLastOfGroup } from '../barrier.ts';
import { needsRanking, planShards, readJointRanking, reRanksJointly, tableSize } from '../graph.ts';
import { faultHold, type HandlerTable } from '../run-job.ts';
import { type ComputeJob, computeJob, readNorms, trainMemberOf, writeAtomic } from './compute-context.ts';
import { experimentDir, inlineOrder, memberIndex, recordArtifacts } from './records.ts';

export {
  ENSEMBLE_MEMBER,
  experimentDir,
  memberIndex,
  REFERENCE_MEMBER,
  recordArtifacts,
  recordEpoch,
} from './records.ts';

type Ranking = { trainSubsetOf: Int32Array; valSubsetOf: Int32Array };

/**
 * The reference ranking: each split ranked on the reference model's radii (Algorithm 1). Precomputed robustness
 * trains with it throughout; on the fly, it is the ranking of epochs 0 … everyEpochs − 1.
 */
async function referenceRanking(c: ComputeJob): Promise<Ranking | undefined> {
  if (!needsRanking(c.spec)) return undefined;
  const tr = await readNorms(c.layout.robustness('train'));
  const va = await readNorms(c.layout.robustness('validation'));
  return c.core.rankingFrom(tr, va, tableSize(c.spec));
}

/** Joint mode: the ranking, validation labels and class count every member-epoch job and barrier share. */
export interface JointSetup {
  classes: number;
  valLabels: number[];
  ranking: { train: number[]; val: number[] };
}

export async function jointSetup(c: ComputeJob): Promise<{ setup: JointSetup; ranking: Ranking }> {
  const existing = await readFile(c.layout.jointSetup, 'utf8').catch(() => undefined);
  if (existing) {
    const setup = JSON.parse(existing) as JointSetup;
    return {
      setup,
      ranking: { trainSubsetOf: Int32Array.from(setup.ranking.train), valSubsetOf: Int32Array.from(setup.ranking.val) },
    };
  }
  // As runExperiment: the reference ranking, else every example in subset 0.
  const ranking = (await referenceRanking(c)) ?? singleSubsetRanking(c.data.train.n, c.data.validation.n);
  const setup: JointSetup = {
    classes: c.data.classes,
    valLabels: Array.from(c.data.validation.y),
    ranking: { train: Array.from(ranking.trainSubsetOf), val: Array.from(ranking.valSubsetOf) },
  };
  await writeAtomic(c.layout.jointSetup, JSON.stringify(setup));
  return { setup, ranking };
}

export const toRanking = (r: { train: number[]; val: number[] }): Ranking => ({
  trainSubsetOf: Int32Array.from(r.train),
  valSubsetOf: Int32Array.from(r.val),
});

/** Epochs a member's checkpoint holds (0 without one), read from the checkpoint file itself. */
export const checkpointEpoch = (dir: string): Promise<number> => checkpointEpochOf(dir);

/**
 * Every epoch record of the experiment: the run's own, plus each member's history from its checkpoint where the
 * run resumed past it. Records missing from Postgres are stored (idempotent per run and epoch). In the order
 * an uninterrupted runExperiment emits them.
 */
export async function completeHistory(c: ComputeJob, own: EpochRecord[]): Promise<EpochRecord[]> {
  const key = (r: EpochRecord) => `${r.member}/${r.epoch}`;
  const byKey = new Map(own.map((r) => [key(r), r]));
  for (let m = 0; m < c.spec.ensemble.members; m++) {
    const files = await readCheckpointFiles(c.layout.member(m));
    for (const r of files?.meta.epochs ?? []) {
      if (byKey.has(key(r))) continue;
      byKey.set(key(r), r);
      await c.record(r);
    }
  }
  return inlineOrder(
    [...byKey.values()].map((r) => ({ member: memberIndex(r.member), epoch: r.epoch, record: r })),
    c.spec.ensemble.mode === 'joint',
  );
}

const dispatchOne = (id: string, kind: JobRequest['kind'], experimentId: string, payload: object): JobRequest => ({
  id,
  kind,
  experimentId,
  payload: { experimentId, ...payload } as never,
});

export const trainHandlers: HandlerTable = {
  /** The whole experiment inline, resumable: runExperiment continues from the checkpoints in its folder. */
  'train:experiment': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const c = await computeJob({ ctx, experiment, job });
    await c.say(
      'info',
      `data: ${c.data.name} (train ${c.data.train.n}, validation ${c.data.validation.n}, test ${c.data.test.n})`,
    );
    // Epoch records are written in order, one at a time, before the job can complete.
    let pending: Promise<void> = Promise.resolve();
    const report = await c.core.runExperiment(c.spec, {
      outDir: experimentDir(ctx, id),
      data: c.data,
      signal,
      log: (l: string) => {
        pending = pending.then(() => c.say('info', l));
      },
      loadOod: (name: string) => c.core.loadOodSet(name as never, c.dataOptions) as never,
      ...(ctx.onStep ? { onStep: ctx.onStep } : {}),
      onEvent: (e) => {
        if (e.type === 'epoch') {
          faultHold(job, e.record);
          pending = pending.then(() => c.record(e.record));
        } else if (e.type === 'stage')
          pending = pending.then(() => c.say('info', `stage ${e.stage}${e.detail ? `: ${e.detail}` : ''}`));
      },
    });
    await pending;
    // A resumed run reports only the epochs it trained itself; the ones before its checkpoints are in the
    // checkpoints' history (also those whose records a killed attempt never stored).
    report.epochs = await completeHistory(c, report.epochs);
    await writeAtomic(join(experimentDir(ctx, id), KEYS.report), `${JSON.stringify(report, null, 2)}\n`);
    await ctx.repos.results.saveReport(id, report);
    await recordArtifacts(ctx, id);
    await ctx.dispatcher.dispatch([
      dispatchOne(jobIds.finalize(id, experiment.attempt), 'orchestrate:finalize', id, {}),
    ]);
    return { accuracy: report.final.accuracy, ece: report.final.ece };
  },

  /** The vanilla reference model, then the robustness shards of every split it ranks. */
  'train:vanilla': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const c = await computeJob({ ctx, experiment, job });
    await c.say('info', 'training the vanilla reference model (shared ranking for all members)');
    ctx.onStep?.({ step: 'reference', seed: referenceSeed(c.spec.seed) });
    const ref = await c.core.trainMember({
      spec: c.spec,
      data: c.data,
      ...referenceTraining(c.spec),
      checkpointDir: c.layout.referenceModel,
      signal,
      onEpoch: c.queue,
    });
    await c.flush();
    for (const r of ref.epochs) await c.record(r);
    const accuracy = ref.epochs.at(-1)?.validation?.accuracy ?? null;
    ref.dispose();
    const shards = planShards(
      c.spec,
      { train: c.data.train.n, validation: c.data.validation.n, test: c.data.test.n },
      ctx.config.shardExamples,
    );
    for (const s of shards)
      await ctx.repos.runs.recordShard(id, { split: s.split, shard: s.shard, start: s.start, end: s.end });
    const a = experiment.attempt;
    await ctx.dispatcher.dispatch(
      shards.length
        ? shards.map((s) =>
            dispatchOne(jobIds.shard(id, s.split, s.shard, a), 'attack:robustness-shard', id, {
              split: s.split,
              shard: s.shard,
              start: s.start,
              end: s.end,
            }),
          )
        : [dispatchOne(jobIds.merge(id, a), 'orchestrate:merge-robustness', id, {})],
    );
    return { epochs: c.spec.training.epochs, validationAccuracy: accuracy, shards: shards.length };
  },

  /** One member of an independent ensemble, every epoch (resumes from its checkpoint). */
  'train:member': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const m = payload.member;
    const c = await computeJob({ ctx, experiment, job });
    const spec = c.spec;
    const reference = await referenceRanking(c);
    const onTheFly = ranksOnTheFly(spec);
    const resumedFrom = await checkpointEpoch(c.layout.member(m));
    if (resumedFrom > 0) await c.say('info', `member ${m}: resuming after epoch ${resumedFrom} from its checkpoint`);
    ctx.onStep?.({ step: 'member', member: m, seed: memberSeeds(spec)[m]! });
    const s = await trainMemberOf(c, m, {
      ranking: onTheFly ? undefined : reference,
      // the plan's re-rank for one model: the reference ranking at epoch 0, then attack train and validation
      // every everyEpochs epochs (as runExperiment)
      reRank: onTheFly
        ? async (model, epoch) => {
            const what = reRankAt(spec, epoch);
            if (what === 'keep') return undefined;
            if (what === 'reference') return reference;
            ctx.onStep?.({ step: 'rerank', member: m, epoch });
            return (await c.core.attackRanking([model], c.data, spec, epoch, { signal })).ranking;
          }
        : undefined,
      onEpoch: c.queue,
      signal,
    });
    await c.flush();
    for (const r of s.epochs) await c.record(r);
    const last = s.epochs.at(-1);
    s.dispose();
    const result = { member: m, epochs: s.epoch, resumedFrom, validation: last?.validation ?? null };
    const a = experiment.attempt;
    const group = Array.from({ length: spec.ensemble.members }, (_, i) => jobIds.member(id, i, a));
    if (await isLastOfGroup(ctx, job, result, group)) {
      await ctx.dispatcher.dispatch([dispatchOne(jobIds.membersDone(id, a), 'orchestrate:members-done', id, {})]);
    }
    return result;
  },

  /**
   * Joint mode ("AR-AdaLS of Ensemble"): one epoch of one member with the shared soft-label table from
   * Postgres; stores the member's validation probabilities for the epoch barrier.
   */
  'train:member-epoch': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const { member: m, epoch: e } = payload;
    if (experiment.currentEpoch !== e)
      return { skipped: `the ensemble is at epoch ${experiment.currentEpoch}, not ${e}` };
    const c = await computeJob({ ctx, experiment, job });
    const spec = c.spec;
    const setupRanking = (await jointSetup(c)).ranking;
    // Re-ranked on the fly: the ranking of the last re-rank job at or before this epoch.
    const ranking = reRanksJointly(spec) ? toRanking(await readJointRanking(c.layout, spec, e)) : setupRanking;
    const shared = (experiment.softLabels as { pTrue?: number[] } | null)?.pTrue ?? initialTable(spec);
    ctx.onStep?.({ step: 'member-epoch', member: m, epoch: e });
    const s = await trainMemberOf(c, m, {
      untilEpoch: e + 1,
      ranking,
      sharedPTrue: shared,
      onEpoch: c.queue,
      signal,
    });
    try {
      if (s.epoch !== e + 1)
        throw new UnrecoverableError(`member ${m} checkpoint is at epoch ${s.epoch}, expected ${e + 1}`);
      await writeAtomic(
        c.layout.valProbs(m, e + 1),
        new Uint8Array(s.valProbs.buffer, s.valProbs.byteOffset, s.valProbs.byteLength),
      );
      await c.flush();
      const rec = s.epochs.find((r: EpochRecord) => r.epoch === e + 1)!;
      await c.record(rec);
    } finally {
      s.dispose();
    }
    const result = { member: m, epoch: e + 1, valProbs: c.layout.valProbs(m, e + 1) };
    const a = experiment.attempt;
    const group = Array.from({ length: spec.ensemble.members }, (_, i) => jobIds.memberEpoch(id, i, e, a));
    if (await isLastOfGroup(ctx, job, result, group)) {
      await ctx.dispatcher.dispatch([
        dispatchOne(jobIds.epochBarrier(id, e, a), 'orchestrate:epoch-barrier', id, { epoch: e }),
      ]);
    }
    return result;
  },
};
