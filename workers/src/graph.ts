/**
 * The job graph of an experiment: the plan of @arcal/core/plan (the decisions the inline runner takes too) mapped
 * to jobs, and the artifact layout the jobs share. The layout is the plan's artifact keys under the experiment's
 * folder, runExperiment's own `outDir` layout (reference/, members/m{i}/, joint.json), so the evaluate job can
 * hand the finished folder to core's runExperiment, which then only evaluates.
 *
 *   start → [train:vanilla → attack:robustness-shard × S → merge-robustness] →
 *     independent: train:member × M → members-done → evaluate → finalize
 *     joint:       ([attack:rerank →] train:member-epoch × M → epoch-barrier) × epochs → evaluate → finalize
 *
 * In joint mode with on-the-fly robustness, `attack:rerank` runs before every epoch e with e % everyEpochs = 0
 * (epoch 0 included, as runExperiment's joint loop): it attacks the averaged ensemble of the members' checkpoints
 * after e epochs and writes the ranking that epochs e … e + everyEpochs − 1 train with (joint/ranking-e{e}.json);
 * at e = 0 it writes the reference model's merged ranking instead (the untrained ensemble would rank at random).
 *
 * Imports no tfjs (the orchestrate queue runs in the worker's own process).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { JobKind, ResolvedSpec } from '@arcal/contracts';
import { KEYS, rankingEpochOf } from '@arcal/core/plan';
import { type JobRequest, jobIds, type Split } from '@arcal/db';

// The decisions are the plan's (@arcal/core/plan), the same the inline runner takes; the graph only maps them to jobs.
export {
  attackBatch,
  needsRanking,
  needsReference,
  planShards,
  rankingEpochOf,
  reRanksBefore,
  reRanksJointly,
  type ShardPlan,
  tableSize,
  usesGraph,
} from '@arcal/core/plan';

/** Joint mode: the M member jobs of epoch index e. */
export function memberEpochJobs(id: string, spec: ResolvedSpec, attempt: number, e: number): JobRequest[] {
  return Array.from({ length: spec.ensemble.members }, (_, m) => ({
    id: jobIds.memberEpoch(id, m, e, attempt),
    kind: 'train:member-epoch' as const,
    experimentId: id,
    payload: { experimentId: id, member: m, epoch: e },
  }));
}

/** A ranking as a re-rank job stores it: each training and validation example's robustness subset. */
export interface StoredRanking {
  epoch: number;
  attack: string;
  train: number[];
  val: number[];
}

/** Joint on-the-fly mode: the ranking epoch index e trains with, as its re-rank job wrote it. */
export async function readJointRanking(layout: Layout, spec: ResolvedSpec, e: number): Promise<StoredRanking> {
  const at = rankingEpochOf(spec, e);
  const text = await readFile(layout.ranking(at), 'utf8').catch(() => undefined);
  if (text === undefined) throw new Error(`the ranking of epoch ${at} (re-rank job) is missing: ${layout.ranking(at)}`);
  return JSON.parse(text) as StoredRanking;
}

/** Where every job of one experiment reads and writes (runExperiment's outDir layout, plus the jobs' own files). */
export function layoutOf(artifactDir: string, experimentId: string) {
  const outDir = join(resolve(artifactDir), experimentId);
  const at = (key: string) => join(outDir, ...key.split('/'));
  return {
    outDir,
    referenceDir: at(KEYS.referenceDir),
    referenceModel: at(KEYS.referenceModel),
    robustness: (split: Split) => at(KEYS.robustness(split)),
    shard: (split: Split, shard: number) => at(KEYS.shard(split, shard)),
    member: (m: number) => at(KEYS.member(m)),
    jointFile: at(KEYS.jointFile),
    /** Joint mode: validation labels, class count and the ranking member-epoch jobs train with (unless re-ranked on the fly). */
    jointSetup: at(KEYS.jointSetup),
    /** Joint mode: member m's validation probabilities after `epoch` epochs (raw float32). */
    valProbs: (m: number, epoch: number) => at(KEYS.valProbs(m, epoch)),
    /** Joint on-the-fly mode: the ranking from attacking the averaged ensemble after `epoch` epochs. */
    ranking: (epoch: number) => at(KEYS.ranking(epoch)),
  };
}

export type Layout = ReturnType<typeof layoutOf>;

/**
 * What each job kind reads and writes under its experiment's folder (prefixes of paths relative to it, in the
 * layout above; '' is the whole folder). Workers on different hosts share no folder: before a job runs, the
 * store's objects under its reads are copied into a folder of its own, and after it, the files it changed
 * under its writes go back to the store (see handoff.ts). A prefix missing here is a file a job on another
 * host never sees, so every file a handler opens must fall under its kind's reads.
 */
export interface HandoffPaths {
  reads: string[];
  writes: string[];
}

type HandoffOf = (payload: Record<string, unknown>, spec: ResolvedSpec) => HandoffPaths;

const memberDir = (m: unknown) => `${KEYS.member(Number(m))}/`;
const RANKINGS = [KEYS.prefix.robustness];
const none: HandoffOf = () => ({ reads: [], writes: [] });

export const HANDOFF: Record<JobKind, HandoffOf> = {
  'orchestrate:start': none,
  'orchestrate:noop': none,
  'orchestrate:members-done': none,
  'orchestrate:finalize': none,
  // one job for the whole experiment, resumed from whatever an earlier attempt stored
  'train:experiment': () => ({ reads: [''], writes: [''] }),
  'train:vanilla': () => ({ reads: [`${KEYS.referenceModel}/`], writes: [`${KEYS.referenceModel}/`] }),
  'attack:robustness-shard': (p) => ({
    // the shard's own file too: robustnessOf reuses it when an earlier attempt finished it
    reads: [`${KEYS.referenceModel}/`, KEYS.shard(p.split as Split, Number(p.shard))],
    writes: [KEYS.prefix.shards],
  }),
  'orchestrate:merge-robustness': () => ({ reads: [KEYS.prefix.shards], writes: RANKINGS }),
  'train:member': (p) => ({ reads: [...RANKINGS, memberDir(p.member)], writes: [memberDir(p.member)] }),
  'train:member-epoch': (p) => ({
    reads: [...RANKINGS, KEYS.jointSetup, KEYS.prefix.rankings, memberDir(p.member)],
    writes: [memberDir(p.member), KEYS.jointSetup, KEYS.prefix.valProbs(Number(p.member))],
  }),
  'attack:rerank': () => ({
    reads: [...RANKINGS, KEYS.prefix.members, KEYS.jointSetup, KEYS.prefix.rankings],
    // the re-rank before epoch 0 may be the first to write the joint setup
    writes: [KEYS.prefix.rankings, KEYS.jointSetup],
  }),
  'orchestrate:epoch-barrier': (p, spec) => ({
    reads: [
      KEYS.jointSetup,
      KEYS.prefix.rankings,
      ...Array.from({ length: spec.ensemble.members }, (_, m) => KEYS.valProbs(m, Number(p.epoch) + 1)),
    ],
    writes: [KEYS.jointFile],
  }),
  // runExperiment resumed on the whole folder: it finds every checkpoint and writes the report and exports
  'evaluate:evaluate': () => ({ reads: [''], writes: [''] }),
};
