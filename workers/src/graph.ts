/**
 * The job graph of an experiment, as pure decisions over the resolved spec, and the artifact layout the
 * jobs share. The layout is runExperiment's own `outDir` layout (reference/, members/m{i}/, joint.json),
 * so the evaluate job can hand the finished folder to core's runExperiment, which then only evaluates.
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
import { type JobRequest, jobIds, type Split } from '@arcal/db';

/** AR-AdaLS with more than one subset trains on a robustness ranking. */
export const needsRanking = (spec: ResolvedSpec): boolean => spec.method.kind === 'ar-adals' && spec.method.subsets > 1;

/**
 * The vanilla reference model is trained when it ranks training examples — precomputed, or the first ranking
 * of on-the-fly robustness — or defines the test subsets (as in runExperiment).
 */
export const needsReference = (spec: ResolvedSpec): boolean =>
  needsRanking(spec) || (spec.evaluation.robustnessSubsets > 0 && spec.evaluation.robustness.reference === 'vanilla');

/** Correct-class soft labels are per subset for AR-AdaLS, one value otherwise (runExperiment's R). */
export const tableSize = (spec: ResolvedSpec): number => (spec.method.kind === 'ar-adals' ? spec.method.subsets : 1);

/** Whether the experiment runs as a graph of jobs rather than one `train:experiment` job. */
export function usesGraph(spec: ResolvedSpec): boolean {
  return spec.ensemble.members > 1 || needsReference(spec);
}

/** Joint ensembles whose ranking is recomputed between epochs by attacking the averaged ensemble. */
export const reRanksJointly = (spec: ResolvedSpec): boolean =>
  spec.ensemble.mode === 'joint' && needsRanking(spec) && spec.method.robustness.source === 'on-the-fly';

/** Whether runExperiment's joint loop re-ranks before training epoch index e (e epochs done): every everyEpochs from 0. */
export const reRanksBefore = (spec: ResolvedSpec, e: number): boolean =>
  reRanksJointly(spec) && e < spec.training.epochs && e % spec.method.robustness.everyEpochs === 0;

/** The re-rank whose ranking epoch index e trains with (the last one at or before e). */
export const rankingEpochOf = (spec: ResolvedSpec, e: number): number =>
  Math.floor(e / spec.method.robustness.everyEpochs) * spec.method.robustness.everyEpochs;

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

/** Attack batch size as runExperiment uses it (the robustness params' batchSize, else 256). */
export const attackBatch = (spec: ResolvedSpec): number => spec.method.robustness.params.batchSize ?? 256;

export interface ShardPlan {
  split: Split;
  shard: number;
  start: number;
  end: number;
  attack: string;
}

/**
 * Splits to attack with the reference model and their shards. Shard bounds fall on multiples of the attack
 * batch size, so every shard attacks exactly the batches an unsharded run would (batches are independent),
 * and the merged radii are bit for bit those of runExperiment.
 */
export function planShards(spec: ResolvedSpec, sizes: Record<Split, number>, maxShardExamples: number): ShardPlan[] {
  const splits: Array<{ split: Split; attack: string }> = [];
  if (needsRanking(spec)) {
    splits.push(
      { split: 'train', attack: spec.method.robustness.attack },
      { split: 'validation', attack: spec.method.robustness.attack },
    );
  }
  const Rr = spec.evaluation.robustnessSubsets;
  if (Rr > 0 && spec.evaluation.robustness.reference === 'vanilla' && sizes.test >= Rr) {
    splits.push({ split: 'test', attack: spec.evaluation.robustness.attack });
  }
  const batch = attackBatch(spec);
  const size = Math.max(batch, Math.floor(maxShardExamples / batch) * batch);
  const out: ShardPlan[] = [];
  for (const { split, attack } of splits) {
    const n = sizes[split];
    for (let start = 0, shard = 0; start < n; start += size, shard++)
      out.push({ split, shard, start, end: Math.min(n, start + size), attack });
  }
  return out;
}

/** Where every job of one experiment reads and writes (runExperiment's outDir layout, plus the jobs' own files). */
export function layoutOf(artifactDir: string, experimentId: string) {
  const outDir = join(resolve(artifactDir), experimentId);
  const referenceDir = join(outDir, 'reference');
  return {
    outDir,
    referenceDir,
    referenceModel: join(referenceDir, 'model'),
    robustness: (split: Split) => join(referenceDir, `robustness-${split}.json`),
    shard: (split: Split, shard: number) => join(referenceDir, 'shards', `robustness-${split}-${shard}.json`),
    member: (m: number) => join(outDir, 'members', `m${m}`),
    jointFile: join(outDir, 'joint.json'),
    /** Joint mode: validation labels, class count and the ranking member-epoch jobs train with (unless re-ranked on the fly). */
    jointSetup: join(outDir, 'joint', 'setup.json'),
    /** Joint mode: member m's validation probabilities after `epoch` epochs (raw float32). */
    valProbs: (m: number, epoch: number) => join(outDir, 'joint', `m${m}-e${epoch}.f32`),
    /** Joint on-the-fly mode: the ranking from attacking the averaged ensemble after `epoch` epochs. */
    ranking: (epoch: number) => join(outDir, 'joint', `ranking-e${epoch}.json`),
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

const memberDir = (m: unknown) => `members/m${Number(m)}/`;
const RANKINGS = ['reference/robustness-'];
const none: HandoffOf = () => ({ reads: [], writes: [] });

export const HANDOFF: Record<JobKind, HandoffOf> = {
  'orchestrate:start': none,
  'orchestrate:noop': none,
  'orchestrate:members-done': none,
  'orchestrate:finalize': none,
  // one job for the whole experiment, resumed from whatever an earlier attempt stored
  'train:experiment': () => ({ reads: [''], writes: [''] }),
  'train:vanilla': () => ({ reads: ['reference/model/'], writes: ['reference/model/'] }),
  'attack:robustness-shard': (p) => ({
    // the shard's own file too: robustnessOf reuses it when an earlier attempt finished it
    reads: ['reference/model/', `reference/shards/robustness-${String(p.split)}-${Number(p.shard)}.json`],
    writes: ['reference/shards/'],
  }),
  'orchestrate:merge-robustness': () => ({ reads: ['reference/shards/'], writes: RANKINGS }),
  'train:member': (p) => ({ reads: [...RANKINGS, memberDir(p.member)], writes: [memberDir(p.member)] }),
  'train:member-epoch': (p) => ({
    reads: [...RANKINGS, 'joint/setup.json', 'joint/ranking-', memberDir(p.member)],
    writes: [memberDir(p.member), 'joint/setup.json', `joint/m${Number(p.member)}-e`],
  }),
  'attack:rerank': () => ({
    reads: [...RANKINGS, 'members/', 'joint/setup.json', 'joint/ranking-'],
    // the re-rank before epoch 0 may be the first to write the joint setup
    writes: ['joint/ranking-', 'joint/setup.json'],
  }),
  'orchestrate:epoch-barrier': (p, spec) => ({
    reads: [
      'joint/setup.json',
      'joint/ranking-',
      ...Array.from({ length: spec.ensemble.members }, (_, m) => `joint/m${m}-e${Number(p.epoch) + 1}.f32`),
    ],
    writes: ['joint.json'],
  }),
  // runExperiment resumed on the whole folder: it finds every checkpoint and writes the report and exports
  'evaluate:evaluate': () => ({ reads: [''], writes: [''] }),
};
