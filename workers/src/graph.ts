/**
 * The job graph of an experiment, as pure decisions over the resolved spec, and the artifact layout the
 * jobs share. The layout is runExperiment's own `outDir` layout (reference/, members/m{i}/, joint.json),
 * so the evaluate job can hand the finished folder to core's runExperiment, which then only evaluates.
 *
 *   start → [train:vanilla → attack:robustness-shard × S → merge-robustness] →
 *     independent: train:member × M → members-done → evaluate → finalize
 *     joint:       (train:member-epoch × M → epoch-barrier) × epochs → evaluate → finalize
 *
 * Imports no tfjs (the orchestrate queue runs in the worker's own process).
 */
import { join, resolve } from 'node:path';
import type { ResolvedSpec } from '@arcal/contracts';
import type { Split } from '@arcal/db';

/** AR-AdaLS with more than one subset trains on a robustness ranking. */
export const needsRanking = (spec: ResolvedSpec): boolean => spec.method.kind === 'ar-adals' && spec.method.subsets > 1;

/** The vanilla reference model is trained when it ranks training examples or defines the test subsets (as in runExperiment). */
export const needsReference = (spec: ResolvedSpec): boolean =>
  (needsRanking(spec) && spec.method.robustness.source === 'precompute') ||
  (spec.evaluation.robustnessSubsets > 0 && spec.evaluation.robustness.reference === 'vanilla');

/** Correct-class soft labels are per subset for AR-AdaLS, one value otherwise (runExperiment's R). */
export const tableSize = (spec: ResolvedSpec): number => (spec.method.kind === 'ar-adals' ? spec.method.subsets : 1);

/**
 * Whether the experiment runs as a graph of jobs rather than one `train:experiment` job. Joint ensembles that
 * re-rank on the fly attack the averaged ensemble between epochs; that step has no job of its own yet, so they
 * run whole.
 */
export function usesGraph(spec: ResolvedSpec): boolean {
  if (spec.ensemble.mode === 'joint' && needsRanking(spec) && spec.method.robustness.source === 'on-the-fly')
    return false;
  return spec.ensemble.members > 1 || needsReference(spec);
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
  if (needsRanking(spec) && spec.method.robustness.source === 'precompute') {
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
    /** Joint mode: validation labels, class count and the ranking every member-epoch job trained with. */
    jointSetup: join(outDir, 'joint', 'setup.json'),
    /** Joint mode: member m's validation probabilities after `epoch` epochs (raw float32). */
    valProbs: (m: number, epoch: number) => join(outDir, 'joint', `m${m}-e${epoch}.f32`),
  };
}

export type Layout = ReturnType<typeof layoutOf>;
