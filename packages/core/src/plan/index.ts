/**
 * The plan of an experiment: every decision about what runs for a resolved spec, in one place, for both
 * executors — the inline runner (experiment/run.ts) and the service's job graph (workers/). Which stages a spec
 * needs (the vanilla reference model, its robustness ranking and shards, the members, re-ranks on the fly, the
 * joint ensemble's per-epoch soft-label update, evaluation and its post-hoc calibrator), the seeds, the shard
 * ranges, the re-rank epochs, the soft-label table size, and the artifact keys every hand-off uses (paths
 * relative to the experiment's folder; old run folders and queued jobs depend on them, so they never change).
 *
 * Pure: no tfjs, no I/O. The worker's own process imports it as `@arcal/core/plan` without loading a tensor
 * backend; the API, which depends on no part of core, reads the same stage predicates from contracts.
 */
import {
  type EpochRecord,
  needsRanking,
  needsReference,
  type ResolvedSpec,
  ranksOnTheFly,
  testOnReference,
} from '@arcal/contracts';
import { averageProbabilities, classificationSummary, subsetStats, updateSoftLabels } from '../calibration/index.ts';
import { memberSeed } from '../util/rng.ts';

// which stages a spec needs: shared with the API's admission estimate through contracts
export { memberSeed, needsRanking, needsReference, ranksOnTheFly, testOnReference };

export type Split = 'train' | 'validation' | 'test';
type Attack = ResolvedSpec['method']['robustness']['attack'];

// ---------------------------------------------------------------------------------------------- decisions

/** Correct-class soft labels: one per AR-AdaLS subset, one value otherwise. */
export const tableSize = (spec: ResolvedSpec): number => (spec.method.kind === 'ar-adals' ? spec.method.subsets : 1);

/** Whether the service runs the experiment as a graph of jobs rather than one `train:experiment` job. */
export const usesGraph = (spec: ResolvedSpec): boolean => spec.ensemble.members > 1 || needsReference(spec);

/** Seed of the vanilla reference model. */
export const referenceSeed = (seed: number): number => memberSeed(seed, 1_000_000);

/** Seeds of the members, in member order. */
export const memberSeeds = (spec: ResolvedSpec): number[] =>
  Array.from({ length: spec.ensemble.members }, (_, m) => memberSeed(spec.seed, m));

/** Attack batch size (the robustness params' batchSize, else 256). */
export const attackBatch = (spec: ResolvedSpec): number => spec.method.robustness.params.batchSize ?? 256;

/**
 * What the ranking of a member trained on the fly is before training epoch index `epoch`: unchanged (`keep`),
 * the reference model's ranking (`reference`, epoch 0), or a new one from attacking the model(s) as they stand
 * (`attack`, every `everyEpochs` epochs after the first).
 */
export function reRankAt(spec: ResolvedSpec, epoch: number): 'keep' | 'reference' | 'attack' {
  if (epoch % spec.method.robustness.everyEpochs !== 0) return 'keep';
  return epoch === 0 ? 'reference' : 'attack';
}

/** Epoch indices before which an on-the-fly ranking attacks the model(s) (none unless ranked on the fly). */
export const reRankEpochs = (spec: ResolvedSpec): number[] =>
  ranksOnTheFly(spec)
    ? Array.from({ length: spec.training.epochs }, (_, e) => e).filter((e) => reRankAt(spec, e) === 'attack')
    : [];

/** Joint ensembles whose ranking is recomputed between epochs by attacking the averaged ensemble. */
export const reRanksJointly = (spec: ResolvedSpec): boolean => spec.ensemble.mode === 'joint' && ranksOnTheFly(spec);

/**
 * Whether the joint graph runs a re-rank job before training epoch index e: every everyEpochs from 0 (at 0 it
 * hands on the reference ranking), never after the last epoch.
 */
export const reRanksBefore = (spec: ResolvedSpec, e: number): boolean =>
  reRanksJointly(spec) && e < spec.training.epochs && reRankAt(spec, e) !== 'keep';

/** The re-rank whose ranking epoch index e trains with (the last one at or before e). */
export const rankingEpochOf = (spec: ResolvedSpec, e: number): number =>
  Math.floor(e / spec.method.robustness.everyEpochs) * spec.method.robustness.everyEpochs;

/**
 * The splits the reference model is attacked on, each with its attack: train and validation for a ranking,
 * test when the test subsets are the reference's and the test split can fill them (`testSize` ≥ subsets).
 */
export function referenceAttacks(spec: ResolvedSpec, testSize: number): Array<{ split: Split; attack: Attack }> {
  const out: Array<{ split: Split; attack: Attack }> = [];
  if (needsRanking(spec))
    out.push(
      { split: 'train', attack: spec.method.robustness.attack },
      { split: 'validation', attack: spec.method.robustness.attack },
    );
  if (testOnReference(spec) && testSize >= spec.evaluation.robustnessSubsets)
    out.push({ split: 'test', attack: spec.evaluation.robustness.attack });
  return out;
}

export interface ShardPlan {
  split: Split;
  shard: number;
  start: number;
  end: number;
  attack: string;
}

/**
 * The reference robustness in shards. Bounds fall on multiples of the attack batch size, so every shard
 * attacks exactly the batches an unsharded run would (batches are independent) and the merged radii are bit
 * for bit the inline run's.
 */
export function planShards(spec: ResolvedSpec, sizes: Record<Split, number>, maxShardExamples: number): ShardPlan[] {
  const batch = attackBatch(spec);
  const size = Math.max(batch, Math.floor(maxShardExamples / batch) * batch);
  const out: ShardPlan[] = [];
  for (const { split, attack } of referenceAttacks(spec, sizes.test)) {
    const n = sizes[split];
    for (let start = 0, shard = 0; start < n; start += size, shard++)
      out.push({ split, shard, start, end: Math.min(n, start + size), attack });
  }
  return out;
}

/** How the vanilla reference model is trained: member −1 of the run, its own seed, as method `vanilla`. */
export const referenceTraining = (spec: ResolvedSpec) =>
  ({ member: -1, seed: referenceSeed(spec.seed), methodKind: 'vanilla' }) as const;

/** The ranking without a robustness ranking (joint ensembles of AdaLS and the like): every example in subset 0. */
export const singleSubsetRanking = (trainSize: number, validationSize: number) => ({
  trainSubsetOf: new Int32Array(trainSize),
  valSubsetOf: new Int32Array(validationSize),
});

/** A robustness file (reference/robustness-*.json, a shard's file): each example's radius, null when never fooled. */
export interface RobustnessFile {
  attack: string;
  n: number;
  norms: Array<number | null>;
}

/**
 * joint.json: where a joint ensemble stands after `epoch` epochs — the shared table, the ensemble's records so far
 * and the ranking the last epoch trained with. The inline joint loop resumes from it; the graph's barrier writes it.
 */
export interface JointFile {
  epoch: number;
  pTrue: number[];
  records: EpochRecord[];
  ranking?: { train: number[]; val: number[] };
}

/** Radii as a robustness file stores them (+∞, never fooled, as null). */
export const encodeRobustness = (attack: string, norms: ArrayLike<number>): RobustnessFile => ({
  attack,
  n: norms.length,
  norms: Array.from(norms, (v) => (Number.isFinite(v) ? v : null)),
});

/** The radii of a robustness file (null back to +∞). */
export const decodeRobustness = (file: Pick<RobustnessFile, 'norms'>): Float32Array =>
  Float32Array.from(file.norms, (v) => (v === null ? Number.POSITIVE_INFINITY : v));

/** Examples a robustness attack never fooled (radius +∞). */
export const unfooledCount = (...norms: ArrayLike<number>[]): number =>
  norms.reduce((n, a) => n + Array.prototype.filter.call(a, (v: number) => !Number.isFinite(v)).length, 0);

/**
 * The order in which an uninterrupted run emits its epoch records: member by member (independent), or per epoch
 * the members then the ensemble (joint). Reports list the history in this order, whichever executor ran it.
 */
export function epochRecordOrder(
  spec: Pick<ResolvedSpec, 'ensemble'>,
): (a: { member: number | 'ensemble'; epoch: number }, b: { member: number | 'ensemble'; epoch: number }) => number {
  const rank = (m: number | 'ensemble') => (m === 'ensemble' ? Number.MAX_SAFE_INTEGER : m);
  return spec.ensemble.mode === 'joint'
    ? (a, b) => a.epoch - b.epoch || rank(a.member) - rank(b.member)
    : (a, b) => rank(a.member) - rank(b.member) || a.epoch - b.epoch;
}

/** The post-hoc calibrator fitted per member on validation logits before the test metrics, if any. */
export const posthocOf = (spec: ResolvedSpec): 'temperature-scaling' | 'mix-n-match' | null =>
  spec.method.kind === 'temperature-scaling' || spec.method.kind === 'mix-n-match' ? spec.method.kind : null;

// ---------------------------------------------------------------------------------------------- artifact keys

/**
 * Where each artifact lives, relative to the experiment's folder ('/'-separated). The inline runner's `outDir`
 * and the job graph's folder (and its store's keys `<experimentId>/<key>`) share this layout, so the evaluate
 * job can hand the finished folder to the inline runner. Run folders and stores written earlier use these
 * names: they stay as they are.
 */
export const KEYS = {
  spec: 'spec.json',
  report: 'report.json',
  referenceDir: 'reference',
  /** Inside the reference folder (which may be shared between experiments, see referenceKey). */
  inReference: {
    key: 'key.json',
    model: 'model',
    robustness: (split: Split) => `robustness-${split}.json`,
    shard: (split: Split, shard: number) => `shards/robustness-${split}-${shard}.json`,
  },
  referenceModel: 'reference/model',
  robustness: (split: Split) => `reference/robustness-${split}.json`,
  shard: (split: Split, shard: number) => `reference/shards/robustness-${split}-${shard}.json`,
  /** Test robustness of the evaluated model(s) (evaluation.robustness.reference 'self'). */
  selfRobustnessTest: 'robustness-test.json',
  member: (m: number) => `members/m${m}`,
  /** The joint ensemble's table, records and ranking after each epoch (resume point of the inline joint loop). */
  jointFile: 'joint.json',
  /** Joint graph: validation labels, class count and the ranking member-epoch jobs train with. */
  jointSetup: 'joint/setup.json',
  /** Joint graph: member m's validation probabilities after `epoch` epochs (raw float32). */
  valProbs: (m: number, epoch: number) => `joint/m${m}-e${epoch}.f32`,
  /** Joint graph, on the fly: the ranking from attacking the averaged ensemble after `epoch` epochs. */
  ranking: (epoch: number) => `joint/ranking-e${epoch}.json`,
  /** Exported model of member m of M: `model` for one member, `models/m{m}` for an ensemble. */
  exported: (members: number, m: number) => (members === 1 ? 'model' : `models/m${m}`),
  /** Prefixes that name a family of the keys above (what a hand-off copies). */
  prefix: {
    robustness: 'reference/robustness-',
    shards: 'reference/shards/',
    rankings: 'joint/ranking-',
    members: 'members/',
    valProbs: (m: number) => `joint/m${m}-e`,
  },
} as const;

// ---------------------------------------------------------------------------------------------- steps

/** One unit of work of the plan; both executors visit these (see `stepKey`). */
export type PlanStep =
  | { step: 'reference'; seed: number }
  | { step: 'robustness'; split: Split; attack: string }
  | { step: 'member'; member: number; seed: number }
  /** On-the-fly re-rank before training epoch index `epoch`: of one member (independent) or the averaged ensemble (joint). */
  | { step: 'rerank'; epoch: number; member?: number }
  | { step: 'member-epoch'; member: number; epoch: number }
  | { step: 'joint-update'; epoch: number }
  | { step: 'evaluate'; posthoc: 'temperature-scaling' | 'mix-n-match' | null; testRobustness: string | null };

/** A step as one comparable string, e.g. `member-epoch m1 e0`. */
export function stepKey(s: PlanStep): string {
  switch (s.step) {
    case 'reference':
      return 'reference';
    case 'robustness':
      return `robustness ${s.split}`;
    case 'member':
      return `member m${s.member}`;
    case 'rerank':
      return s.member === undefined ? `rerank e${s.epoch}` : `rerank m${s.member} e${s.epoch}`;
    case 'member-epoch':
      return `member-epoch m${s.member} e${s.epoch}`;
    case 'joint-update':
      return `joint-update e${s.epoch}`;
    case 'evaluate':
      return 'evaluate';
  }
}

/** The evaluation step: its post-hoc calibrator and which model(s) the test robustness attacks (null: none). */
export function evaluateStep(spec: ResolvedSpec, testSize: number): PlanStep {
  const Rr = spec.evaluation.robustnessSubsets;
  return {
    step: 'evaluate',
    posthoc: posthocOf(spec),
    testRobustness: Rr > 0 && testSize >= Rr ? spec.evaluation.robustness.reference : null,
  };
}

/**
 * Every step of the experiment, in an order both executors respect: the reference model and its robustness,
 * then the members (independent: each whole, with its re-ranks; joint: epoch by epoch, a re-rank of the
 * averaged ensemble where due, each member's epoch, then the shared table's update), then evaluation.
 */
export function planSteps(spec: ResolvedSpec, sizes: Record<Split, number>): PlanStep[] {
  const steps: PlanStep[] = [];
  if (needsReference(spec)) steps.push({ step: 'reference', seed: referenceSeed(spec.seed) });
  for (const a of referenceAttacks(spec, sizes.test)) steps.push({ step: 'robustness', ...a });
  const M = spec.ensemble.members;
  const seeds = memberSeeds(spec);
  const reRanks = reRankEpochs(spec);
  if (spec.ensemble.mode !== 'joint') {
    for (let m = 0; m < M; m++) {
      steps.push({ step: 'member', member: m, seed: seeds[m]! });
      for (const e of reRanks) steps.push({ step: 'rerank', member: m, epoch: e });
    }
  } else {
    for (let e = 0; e < spec.training.epochs; e++) {
      if (reRanks.includes(e)) steps.push({ step: 'rerank', epoch: e });
      for (let m = 0; m < M; m++) steps.push({ step: 'member-epoch', member: m, epoch: e });
      steps.push({ step: 'joint-update', epoch: e });
    }
  }
  steps.push(evaluateStep(spec, sizes.test));
  return steps;
}

// ---------------------------------------------------------------------------------------------- joint update

export interface JointEpochInput {
  /** Epoch index e just trained (the record is epoch e + 1). */
  epoch: number;
  /** Each member's validation probabilities after epoch e + 1, in member order. */
  valProbs: Float32Array[];
  valLabels: ArrayLike<number>;
  /** Each validation example's robustness subset in the ranking epoch e trained with. */
  valSubsetOf: ArrayLike<number>;
  /** The shared table epoch e trained with. */
  pTrue: number[];
  /** Each member's record of epoch e + 1, in member order. */
  memberRecords: EpochRecord[];
  classes: number;
  /** Seconds the ensemble's epoch took (the executor measures it its own way). */
  seconds: number;
}

/**
 * The joint ensemble's ("AR-AdaLS of Ensemble") update after an epoch: the averaged validation prediction gives
 * each subset's confidence and accuracy, which move the one shared soft-label table (Eq. 3), and the ensemble's
 * epoch record. One function for both executors, so their tables and records agree bit for bit.
 */
export function jointEpochUpdate(
  spec: ResolvedSpec,
  i: JointEpochInput,
): { pTrue: number[]; epsilon: number[]; record: EpochRecord } {
  const M = i.valProbs.length;
  const avg = averageProbabilities(i.valProbs);
  const stats = subsetStats(avg, i.valLabels, i.valSubsetOf, tableSize(spec));
  const upd = updateSoftLabels(i.pTrue, stats, { alpha: spec.method.alpha, numClasses: i.classes });
  let trainLoss = 0;
  let trainAccuracy = 0;
  for (const r of i.memberRecords) {
    trainLoss += r.trainLoss / M;
    trainAccuracy += r.trainAccuracy / M;
  }
  const { brier, ...v } = classificationSummary(avg, i.valLabels, spec.evaluation.bins);
  const record: EpochRecord = {
    epoch: i.epoch + 1,
    member: 'ensemble',
    trainLoss,
    trainAccuracy,
    learningRate: i.memberRecords.at(-1)?.learningRate ?? spec.training.learningRate,
    validation: { ...v, brier },
    softLabels: {
      pTrue: [...upd.pTrue],
      epsilon: upd.epsilon,
      valConf: stats.map((s) => s.conf),
      valAcc: stats.map((s) => s.acc),
    },
    seconds: i.seconds,
  };
  return { pTrue: upd.pTrue, epsilon: upd.epsilon, record };
}

/** The shared table before the first epoch: every correct-class soft label 1. */
export const initialTable = (spec: ResolvedSpec): number[] => new Array(tableSize(spec)).fill(1);
