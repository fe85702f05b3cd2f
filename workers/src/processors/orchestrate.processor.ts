/**
 * The orchestrate queue: short bookkeeping jobs that plan the graph, join its fan-outs and close it. Runs
 * in the worker's own process (no tfjs here). See graph.ts for the shape of the graph.
 */
import { readFile } from 'node:fs/promises';
import type { EpochRecord, ExperimentReport, ResolvedSpec } from '@arcal/contracts';
import {
  initialTable,
  type JointFile,
  jointEpochUpdate,
  type RobustnessFile,
  referenceAttacks,
} from '@arcal/core/plan';
import { type JobRequest, jobIds, type Split } from '@arcal/db';
import type { WorkerContext } from '../context.ts';
import { writeAtomic } from '../files.ts';
import {
  layoutOf,
  memberEpochJobs,
  needsReference,
  readJointRanking,
  reRanksBefore,
  reRanksJointly,
  usesGraph,
} from '../graph.ts';
import type { HandlerTable } from '../run-job.ts';
import { ENSEMBLE_MEMBER, recordEpoch } from './records.ts';
import type { JointSetup } from './train.processor.ts';

const req = (id: string, kind: JobRequest['kind'], experimentId: string, payload: object = {}): JobRequest => ({
  id,
  kind,
  experimentId,
  payload: { experimentId, ...payload } as never,
});

async function say(ctx: WorkerContext, id: string, message: string, jobId?: string) {
  const line = await ctx.repos.results.appendLog(id, 'info', message, jobId);
  await ctx.events.publish(id, {
    type: 'log',
    id: line.id.toString(),
    level: 'info',
    message,
    at: line.createdAt.toISOString(),
  });
}

/**
 * Member training of the experiment: all members (independent), or the epoch the joint ensemble is at — preceded
 * by its re-rank job where runExperiment re-ranks before that epoch (the re-rank job then enqueues the members).
 */
function memberJobs(id: string, spec: ResolvedSpec, attempt: number, currentEpoch: number): JobRequest[] {
  const M = spec.ensemble.members;
  if (spec.ensemble.mode !== 'joint')
    return Array.from({ length: M }, (_, m) => req(jobIds.member(id, m, attempt), 'train:member', id, { member: m }));
  if (currentEpoch >= spec.training.epochs) return [req(jobIds.evaluate(id, attempt), 'evaluate:evaluate', id)];
  if (reRanksBefore(spec, currentEpoch))
    return [req(jobIds.rerank(id, currentEpoch, attempt), 'attack:rerank', id, { epoch: currentEpoch })];
  return memberEpochJobs(id, spec, attempt, currentEpoch);
}

export const orchestrateHandlers: HandlerTable = {
  /** Plans the graph; on a retry (attempt > 1) the same plan resumes from checkpoints, cached shards and the stored joint epoch. */
  'orchestrate:start': async ({ ctx, payload, experiment, job }) => {
    const id = payload.experimentId;
    const spec = experiment.spec as unknown as ResolvedSpec;
    if (await ctx.repos.experiments.transition(id, ['queued'], 'running')) {
      await ctx.events.publish(id, { type: 'status', status: 'running' });
    }
    const a = experiment.attempt;
    let plan: JobRequest[];
    let outline: string;
    if (!usesGraph(spec)) {
      plan = [req(jobIds.experiment(id, a), 'train:experiment', id)];
      outline = 'train:experiment → finalize';
    } else if (needsReference(spec)) {
      plan = [req(jobIds.vanilla(id, a), 'train:vanilla', id)];
      outline = `train:vanilla → robustness shards → merge → ${spec.ensemble.mode === 'joint' ? 'joint member epochs' : 'members'} → evaluate → finalize`;
    } else {
      plan = memberJobs(id, spec, a, experiment.currentEpoch);
      outline = `${spec.ensemble.mode === 'joint' ? `joint member epochs from epoch ${experiment.currentEpoch}` : 'members'} → evaluate → finalize`;
    }
    await say(ctx, id, `attempt ${a}: planned ${outline}`, job.id);
    await ctx.dispatcher.dispatch(plan);
    return { planned: plan.map((p) => p.kind) };
  },

  /** Joins the robustness shards into one file per split (robustnessOf's cache format), then starts member training. */
  'orchestrate:merge-robustness': async ({ ctx, payload, experiment }) => {
    const id = payload.experimentId;
    const spec = experiment.spec as unknown as ResolvedSpec;
    const layout = layoutOf(ctx.config.artifactDir, id);
    const shards = await ctx.repos.runs.shardsForExperiment(id);
    const splits = [...new Set(shards.map((s) => s.split as Split))];
    for (const split of splits) {
      const parts = shards.filter((s) => s.split === split).sort((x, y) => x.start - y.start);
      const norms: Array<number | null> = [];
      let attack = '';
      for (const p of parts) {
        if (p.start !== norms.length) throw new Error(`robustness shards of ${split} leave a gap at ${norms.length}`);
        const f = JSON.parse(await readFile(layout.shard(split, p.shard), 'utf8')) as RobustnessFile;
        if (f.n !== p.end - p.start)
          throw new Error(`robustness shard ${split}/${p.shard} holds ${f.n} radii, expected ${p.end - p.start}`);
        attack = f.attack;
        norms.push(...f.norms);
      }
      const merged: RobustnessFile = { attack, n: norms.length, norms };
      await writeAtomic(layout.robustness(split), `${JSON.stringify(merged)}\n`);
    }
    // each split's robustness is whole once merged (in the plan's order of splits)
    for (const a of referenceAttacks(spec, Number.POSITIVE_INFINITY))
      if (splits.includes(a.split)) ctx.onStep?.({ step: 'robustness', ...a });
    await ctx.dispatcher.dispatch(memberJobs(id, spec, experiment.attempt, experiment.currentEpoch));
    return { merged: splits };
  },

  /** Every member of an independent ensemble is trained: evaluate. */
  'orchestrate:members-done': async ({ ctx, payload, experiment }) => {
    const id = payload.experimentId;
    const spec = experiment.spec as unknown as ResolvedSpec;
    const group = Array.from({ length: spec.ensemble.members }, (_, m) => jobIds.member(id, m, experiment.attempt));
    const done = await ctx.repos.jobs.countCompleted(group);
    if (done !== group.length) throw new Error(`members-done ran with ${done} of ${group.length} members completed`);
    await ctx.dispatcher.dispatch([req(jobIds.evaluate(id, experiment.attempt), 'evaluate:evaluate', id)]);
    return { members: group.length };
  },

  /**
   * Joint barrier after epoch e+1 of every member: the averaged validation prediction updates the one shared
   * soft-label table (Eq. 3 per robustness subset), an ensemble epoch record is stored, joint.json is written
   * as runExperiment writes it, and epoch e+1 (or evaluation) is enqueued. The table moves only from epoch e
   * to e+1 (compare-and-set), so a repeated barrier never applies the update twice.
   */
  'orchestrate:epoch-barrier': async ({ ctx, payload, experiment }) => {
    const id = payload.experimentId;
    const e = payload.epoch;
    const spec = experiment.spec as unknown as ResolvedSpec;
    const M = spec.ensemble.members;
    const layout = layoutOf(ctx.config.artifactDir, id);
    const setup = JSON.parse(await readFile(layout.jointSetup, 'utf8')) as JointSetup;
    // The ranking epoch e trained with: the shared one, or its re-rank's when ranked on the fly.
    const rankingAt = async (epoch: number) =>
      reRanksJointly(spec) ? await readJointRanking(layout, spec, epoch) : setup.ranking;
    if (experiment.currentEpoch === e) {
      const probs: Float32Array[] = [];
      for (let m = 0; m < M; m++) {
        const b = await readFile(layout.valProbs(m, e + 1));
        probs.push(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
      }
      const metrics = await ctx.repos.runs.metricsForExperiment(id);
      const memberRecords = Array.from({ length: M }, (_, m) => {
        const row = metrics.find((r) => r.member === m && r.epoch === e + 1);
        if (!row) throw new Error(`member ${m} has no record of epoch ${e + 1}`);
        return row.record as unknown as EpochRecord;
      });
      const pTrue0 = (experiment.softLabels as { pTrue?: number[] } | null)?.pTrue ?? initialTable(spec);
      // The plan's update, the one runExperiment's joint loop applies.
      const { record: rec, ...upd } = jointEpochUpdate(spec, {
        epoch: e,
        valProbs: probs,
        valLabels: setup.valLabels,
        valSubsetOf: (await rankingAt(e)).val,
        pTrue: pTrue0,
        memberRecords,
        classes: setup.classes,
        seconds: memberRecords.reduce((s, r) => s + r.seconds, 0),
      });
      ctx.onStep?.({ step: 'joint-update', epoch: e });
      await recordEpoch(ctx, id, new Map(), rec);
      await ctx.repos.experiments.advanceEpoch(id, e, e + 1, { epoch: e + 1, pTrue: upd.pTrue, epsilon: upd.epsilon });
    }
    const now = await ctx.repos.experiments.get(id);
    if (!now || now.currentEpoch < e + 1) throw new Error(`the shared soft labels did not reach epoch ${e + 1}`);
    const pTrue = (now.softLabels as { pTrue: number[] }).pTrue;
    const records = (await ctx.repos.runs.metricsForExperiment(id))
      .filter((r) => r.member === ENSEMBLE_MEMBER)
      .map((r) => r.record as unknown as EpochRecord);
    const last = await rankingAt(now.currentEpoch - 1);
    // joint.json as runExperiment's joint loop writes it, so an inline resume of the folder continues from here
    const joint: JointFile = { epoch: now.currentEpoch, pTrue, records, ranking: { train: last.train, val: last.val } };
    await writeAtomic(layout.jointFile, `${JSON.stringify(joint, null, 2)}\n`);
    await ctx.dispatcher.dispatch(memberJobs(id, spec, experiment.attempt, now.currentEpoch));
    return { epoch: now.currentEpoch, pTrue };
  },

  'orchestrate:finalize': async ({ ctx, payload }) => {
    const id = payload.experimentId;
    const report = (await ctx.repos.results.getReport(id)) as ExperimentReport | null;
    if (!report) throw new Error(`finalize: experiment ${id} has no report yet`);
    const runs = await ctx.repos.runs.listForExperiment(id);
    for (const m of report.members) {
      const run = runs.find((r) => r.member === m.member);
      if (run) await ctx.repos.runs.setFinal(run.id, m.final);
    }
    if (await ctx.repos.experiments.transition(id, ['running', 'queued'], 'succeeded')) {
      await ctx.events.publish(id, { type: 'report' });
      await ctx.events.publish(id, { type: 'status', status: 'succeeded' });
    }
    return { final: report.final.accuracy };
  },

  /** Records itself and nothing else: what bench/api-throughput.ts measures as per-job overhead. */
  'orchestrate:noop': async () => ({ ok: true }),
};
