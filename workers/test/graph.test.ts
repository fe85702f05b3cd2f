/** The graph's pure decisions: which experiments become graphs, how splits are sharded, how epoch history is ordered. */
import { type ResolvedSpec, validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import {
  memberEpochJobs,
  needsReference,
  planShards,
  rankingEpochOf,
  reRanksBefore,
  reRanksJointly,
  tableSize,
  usesGraph,
} from '../src/graph.ts';
import { inlineOrder } from '../src/processors/evaluate.processor.ts';

const spec = (over: Record<string, unknown>): ResolvedSpec => {
  const v = validateSpec({
    name: 'g',
    seed: 1,
    dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 1000, validationSize: 100, testLimit: 100 },
    model: { arch: 'mlp' },
    training: { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.1 },
    method: { kind: 'vanilla' },
    evaluation: { robustnessSubsets: 0 },
    ...over,
  });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
};

const arAdals = (source: 'precompute' | 'on-the-fly', batchSize = 100) => ({
  kind: 'ar-adals',
  subsets: 5,
  robustness: { source, params: { batchSize } },
});

describe('graph decisions', () => {
  it('one vanilla member runs as a single job; more members or a reference model make a graph', () => {
    expect(usesGraph(spec({}))).toBe(false);
    expect(usesGraph(spec({ ensemble: { members: 2 } }))).toBe(true);
    expect(usesGraph(spec({ method: arAdals('precompute') }))).toBe(true);
    expect(usesGraph(spec({ evaluation: { robustnessSubsets: 4, robustness: { reference: 'vanilla' } } }))).toBe(true);
    // on-the-fly ranking of one member starts from the reference's ranking, so it is a graph too
    expect(needsReference(spec({ method: arAdals('on-the-fly') }))).toBe(true);
    expect(usesGraph(spec({ method: arAdals('on-the-fly') }))).toBe(true);
    // the reference attacks train and validation for on-the-fly ranking as for precomputed
    expect(
      planShards(spec({ method: arAdals('on-the-fly') }), { train: 10, validation: 5, test: 5 }, 1000).map(
        (p) => p.split,
      ),
    ).toEqual(['train', 'validation']);
    // AdaLS (one subset) ranks nothing
    expect(needsReference(spec({ method: { kind: 'adals' } }))).toBe(false);
    // a joint ensemble re-ranked on the fly is a graph too (re-rank jobs between its epochs)
    expect(usesGraph(spec({ method: arAdals('on-the-fly'), ensemble: { members: 3, mode: 'joint' } }))).toBe(true);
    expect(usesGraph(spec({ method: arAdals('precompute'), ensemble: { members: 3, mode: 'joint' } }))).toBe(true);
  });

  it('joint on-the-fly ensembles re-rank before epochs 0, k, 2k, … (not after the last) and train with the last re-rank', () => {
    const joint = (everyEpochs: number, epochs = 5) =>
      spec({
        training: { epochs, batchSize: 32, optimizer: 'sgd', learningRate: 0.1 },
        method: { ...arAdals('on-the-fly'), robustness: { source: 'on-the-fly', everyEpochs } },
        ensemble: { members: 2, mode: 'joint' },
      });
    const before = (s: ResolvedSpec) => [0, 1, 2, 3, 4, 5].filter((e) => reRanksBefore(s, e));
    expect(before(joint(1))).toEqual([0, 1, 2, 3, 4]);
    expect(before(joint(2))).toEqual([0, 2, 4]);
    expect(before(joint(3))).toEqual([0, 3]);
    // everyEpochs 2: epochs 0,1 train with the ranking of 0; 2,3 with 2; 4 with 4
    expect([0, 1, 2, 3, 4].map((e) => rankingEpochOf(joint(2), e))).toEqual([0, 0, 2, 2, 4]);
    expect([0, 1, 2, 3, 4].map((e) => rankingEpochOf(joint(3), e))).toEqual([0, 0, 0, 3, 3]);
    // no re-rank jobs for precomputed robustness, independent ensembles or methods without subsets
    const pre = spec({ method: arAdals('precompute'), ensemble: { members: 2, mode: 'joint' } });
    const indep = spec({ method: arAdals('on-the-fly'), ensemble: { members: 2, mode: 'independent' } });
    const adals = spec({ method: { kind: 'adals' }, ensemble: { members: 2, mode: 'joint' } });
    for (const s of [pre, indep, adals]) {
      expect(reRanksJointly(s)).toBe(false);
      expect(reRanksBefore(s, 0)).toBe(false);
    }
    expect(memberEpochJobs('x', joint(1), 1, 3).map((j) => [j.id, j.kind, j.payload])).toEqual([
      ['x-m0-e3', 'train:member-epoch', { experimentId: 'x', member: 0, epoch: 3 }],
      ['x-m1-e3', 'train:member-epoch', { experimentId: 'x', member: 1, epoch: 3 }],
    ]);
  });

  it('the soft-label table has one entry per AR-AdaLS subset, one otherwise', () => {
    expect(tableSize(spec({ method: arAdals('precompute') }))).toBe(5);
    expect(tableSize(spec({ method: { kind: 'adals' } }))).toBe(1);
  });

  it('shards cut on multiples of the attack batch size and cover each split once', () => {
    const s = spec({
      method: arAdals('precompute', 100),
      evaluation: { robustnessSubsets: 4, robustness: { reference: 'vanilla' } },
    });
    // 250 → shards of 200 (the largest multiple of 100 not above 250)
    const plan = planShards(s, { train: 1000, validation: 150, test: 100 }, 250);
    expect(plan.map((p) => [p.split, p.shard, p.start, p.end])).toEqual([
      ['train', 0, 0, 200],
      ['train', 1, 200, 400],
      ['train', 2, 400, 600],
      ['train', 3, 600, 800],
      ['train', 4, 800, 1000],
      ['validation', 0, 0, 150],
      ['test', 0, 0, 100],
    ]);
    // a shard limit below the batch size still gives whole batches
    expect(planShards(s, { train: 150, validation: 10, test: 3 }, 30).map((p) => [p.split, p.start, p.end])).toEqual([
      ['train', 0, 100],
      ['train', 100, 150],
      ['validation', 0, 10],
    ]);
  });

  it('test robustness is sharded only for the vanilla reference, training ranks only for precompute', () => {
    const self = spec({ method: arAdals('precompute'), evaluation: { robustnessSubsets: 4 } });
    expect(new Set(planShards(self, { train: 10, validation: 10, test: 10 }, 4096).map((p) => p.split))).toEqual(
      new Set(['train', 'validation']),
    );
    const evalOnly = spec({
      evaluation: { robustnessSubsets: 4, robustness: { reference: 'vanilla', attack: 'deepfool-l2' } },
    });
    expect(planShards(evalOnly, { train: 10, validation: 10, test: 10 }, 4096)).toEqual([
      { split: 'test', shard: 0, start: 0, end: 10, attack: 'deepfool-l2' },
    ]);
  });
});

describe('epoch history order', () => {
  const rows = [
    { member: -2, epoch: 1, record: 'E1' },
    { member: -2, epoch: 2, record: 'E2' },
    { member: -1, epoch: 1, record: 'R1' },
    { member: 0, epoch: 1, record: 'a1' },
    { member: 0, epoch: 2, record: 'a2' },
    { member: 1, epoch: 1, record: 'b1' },
    { member: 1, epoch: 2, record: 'b2' },
  ];
  it('independent: member by member; joint: epoch by epoch with the ensemble last; never the reference model', () => {
    expect(
      inlineOrder(
        rows.filter((r) => r.member !== -2),
        false,
      ),
    ).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(inlineOrder(rows, true)).toEqual(['a1', 'b1', 'E1', 'a2', 'b2', 'E2']);
  });
});
