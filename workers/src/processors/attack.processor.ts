/**
 * The attack queue. `robustness-shard`: robustness radii of one shard [start, end) of a split under the vanilla
 * reference model, cached as a file in robustnessOf's own format and recorded in `robustness_shards`; the last
 * shard to finish hands the experiment to the merge step. `rerank`: a joint ensemble re-ranked on the fly, its
 * averaged members attacked after an epoch as runExperiment's joint loop does, then that epoch's member jobs.
 * Sandboxed processes only (tfjs).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { checkpointEpochOf } from '@arcal/core/checkpoint-file';
import { initialTable, referenceAttacks, reRankAt, unfooledCount } from '@arcal/core/plan';
import { jobIds } from '@arcal/db';
import { UnrecoverableError } from 'bullmq';
import { isLastOfGroup } from '../barrier.ts';
import { memberEpochJobs, readJointRanking, reRanksBefore, type StoredRanking } from '../graph.ts';
import type { HandlerTable } from '../run-job.ts';
import { computeJob, referenceModel, trainMemberOf, writeAtomic } from './compute-context.ts';
import { jointSetup, toRanking } from './train.processor.ts';

export const attackHandlers: HandlerTable = {
  'attack:robustness-shard': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const { split, shard, start, end } = payload;
    const c = await computeJob({ ctx, experiment, job });
    const whole = c.data[split];
    if (!(start >= 0 && end <= whole.n && start < end))
      throw new Error(`shard ${split}[${start}, ${end}) is outside the split (n = ${whole.n})`);
    const per = c.data.shape[0] * c.data.shape[1] * c.data.shape[2];
    const part = {
      x: whole.x.subarray(start * per, end * per),
      y: whole.y.subarray(start, end),
      n: end - start,
      fileIndex: whole.fileIndex.subarray(start, end),
    };
    // The plan's attack for the split: the method's for the training and validation ranking, the evaluation's for the test subsets.
    const planned = referenceAttacks(c.spec, c.data.test.n).find((a) => a.split === split);
    if (!planned)
      throw new UnrecoverableError(`this experiment's plan attacks no ${split} split with the reference model`);
    const attack = planned.attack;
    const ref = await referenceModel(c, signal);
    const file = c.layout.shard(split, shard);
    await mkdir(dirname(file), { recursive: true });
    let norms: Float32Array;
    try {
      norms = await c.core.robustnessOf([ref.model], part, c.data.shape, c.spec, attack, {
        file,
        what: `${split} [${start}, ${end})`,
        signal,
      });
    } finally {
      ref.dispose();
    }
    const unfooled = unfooledCount(norms);
    const result = { split, shard, n: part.n, unfooled };
    await ctx.repos.runs.recordShard(id, {
      split,
      shard,
      start,
      end,
      path: relative(resolve(ctx.config.artifactDir), file),
      result,
    });
    const shards = await ctx.repos.runs.shardsForExperiment(id);
    const group = shards.map((s) => jobIds.shard(id, s.split as typeof split, s.shard, experiment.attempt));
    if (await isLastOfGroup(ctx, job, result, group)) {
      await ctx.dispatcher.dispatch([
        {
          id: jobIds.merge(id, experiment.attempt),
          kind: 'orchestrate:merge-robustness',
          experimentId: id,
          payload: { experimentId: id },
        },
      ]);
    }
    return result;
  },

  /**
   * Joint ensemble re-ranked on the fly, before epoch index e (e > 0; at e = 0 the reference ranking is written
   * as it is): every member's checkpoint after e epochs, the averaged ensemble attacked on train and validation with the
   * method's attack (robustnessOf, as runExperiment's reRankWith), ranked into subsets and written to
   * joint/ranking-e{e}.json; then epoch e's member jobs. A repeated job reuses the written ranking.
   */
  'attack:rerank': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const e = payload.epoch;
    if (experiment.currentEpoch !== e)
      return { skipped: `the ensemble is at epoch ${experiment.currentEpoch}, not ${e}` };
    const c = await computeJob({ ctx, experiment, job });
    const spec = c.spec;
    if (!reRanksBefore(spec, e)) throw new UnrecoverableError(`epoch ${e} is not re-ranked by this experiment's spec`);
    const file = c.layout.ranking(e);
    const existing = await readFile(file, 'utf8').catch(() => undefined);
    let result: { epoch: number; unfooled: number; reused: boolean };
    if (existing) {
      const r = JSON.parse(existing) as StoredRanking & { unfooled?: number };
      result = { epoch: e, unfooled: r.unfooled ?? 0, reused: true };
    } else if (reRankAt(spec, e) === 'reference') {
      // As runExperiment: epochs 0 … everyEpochs − 1 train on the reference model's ranking (the joint setup's),
      // never on one of the untrained ensemble.
      const { ranking } = await jointSetup(c);
      const stored: StoredRanking & { source: 'reference' } = {
        epoch: 0,
        attack: spec.method.robustness.attack,
        train: Array.from(ranking.trainSubsetOf),
        val: Array.from(ranking.valSubsetOf),
        source: 'reference',
      };
      await writeAtomic(file, JSON.stringify(stored));
      result = { epoch: 0, unfooled: 0, reused: false };
    } else {
      const M = spec.ensemble.members;
      for (let m = 0; m < M; m++) {
        const at = await checkpointEpochOf(c.layout.member(m));
        if (at !== e) throw new Error(`member ${m} checkpoint is at epoch ${at}, expected ${e} before re-ranking`);
      }
      // What runExperiment passes when it loads the members: the ranking and shared table in force before epoch e.
      const before = toRanking(await readJointRanking(c.layout, spec, e - 1));
      const shared = (experiment.softLabels as { pTrue?: number[] } | null)?.pTrue ?? initialTable(spec);
      const members = [];
      try {
        for (let m = 0; m < M; m++) {
          const s = await trainMemberOf(c, m, {
            untilEpoch: e,
            ranking: before,
            sharedPTrue: shared,
            signal,
          });
          members.push(s);
          if (s.epoch !== e) throw new Error(`member ${m} loaded at epoch ${s.epoch}, expected ${e}`);
        }
        ctx.onStep?.({ step: 'rerank', epoch: e });
        await c.say(
          'info',
          `re-ranking before epoch ${e + 1}: ${spec.method.robustness.attack} on the averaged ensemble`,
        );
        const attack = spec.method.robustness.attack;
        const { ranking, unfooled } = await c.core.attackRanking(
          members.map((s) => s.model),
          c.data,
          spec,
          e,
          { signal },
        );
        const stored: StoredRanking & { unfooled: number } = {
          epoch: e,
          attack,
          train: Array.from(ranking.trainSubsetOf),
          val: Array.from(ranking.valSubsetOf),
          unfooled,
        };
        await writeAtomic(file, JSON.stringify(stored));
        result = { epoch: e, unfooled, reused: false };
      } finally {
        for (const s of members) s.dispose();
      }
    }
    await ctx.dispatcher.dispatch(memberEpochJobs(id, spec, experiment.attempt, e));
    return result;
  },
};
