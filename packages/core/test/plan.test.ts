/**
 * The experiment's plan (@arcal/core/plan): the steps, seeds, shards, re-rank epochs, table size and artifact
 * keys of every example spec, checked against values worked out by hand from each spec; the joint ensemble's
 * epoch update against a hand computation; and the module's import graph (no tfjs).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EpochRecord, type ResolvedSpec, validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import { modulesResolvedBy } from '../../../test/support/module-graph.ts';
import {
  decodeRobustness,
  encodeRobustness,
  epochRecordOrder,
  jointEpochUpdate,
  KEYS,
  memberSeeds,
  planShards,
  planSteps,
  rankingEpochOf,
  referenceSeed,
  referenceTraining,
  reRankEpochs,
  reRanksBefore,
  singleSubsetRanking,
  stepKey,
  tableSize,
  unfooledCount,
  usesGraph,
} from '../src/plan/index.ts';
import { Rng } from '../src/util/rng.ts';

const EXAMPLES = fileURLToPath(new URL('../../../../shared/examples/', import.meta.url));

const resolved = (raw: unknown): ResolvedSpec => {
  const v = validateSpec(raw);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
};

/** The seed stream's first draw, scaled to 31 bits, for a (seed, member) pair: the documented seeding, written out. */
const seedOf = (seed: number, member: number) =>
  Math.floor(new Rng(seed * 1000003 + member * 7919 + 17).next() * 2 ** 31);

/** The shard limit the workers use unless ARCAL_SHARD_EXAMPLES says otherwise. */
const SHARD_EXAMPLES = 4096;

interface Expected {
  sizes: { train: number; validation: number; test: number };
  steps: string[];
  graph: boolean;
  table: number;
  reRanks: number[];
  /** Epoch indices with a re-rank job in the joint graph. */
  reRankJobs: number[];
  /** [split, start, end] of each shard. */
  shards: Array<[string, number, number]>;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const members = (M: number) => range(M).map((m) => `member m${m}`);
const jointEpochs = (M: number, E: number, reRanks: number[] = []) =>
  range(E).flatMap((e) => [
    ...(reRanks.includes(e) ? [`rerank e${e}`] : []),
    ...range(M).map((m) => `member-epoch m${m} e${e}`),
    `joint-update e${e}`,
  ]);

// Worked out from the JSON files by hand (defaults from docs/SPEC: reference 'self', robustnessSubsets 10, attack
// batch 256, everyEpochs 1).
const expected: Record<string, Expected> = {
  // AR-AdaLS, 10 subsets, precomputed FMN: the reference ranks train (10 000 → 4096 + 4096 + 1808) and validation.
  'ar-adals-fashion.json': {
    sizes: { train: 10000, validation: 2000, test: 2000 },
    steps: ['reference', 'robustness train', 'robustness validation', ...members(1), 'evaluate'],
    graph: true,
    table: 10,
    reRanks: [],
    reRankJobs: [],
    shards: [
      ['train', 0, 4096],
      ['train', 4096, 8192],
      ['train', 8192, 10000],
      ['validation', 0, 2000],
    ],
  },
  // joint, 5 members, 5 epochs, precomputed: no re-ranks; each epoch 5 member epochs then the shared update.
  'ensemble-joint.json': {
    sizes: { train: 10000, validation: 2000, test: 2000 },
    steps: ['reference', 'robustness train', 'robustness validation', ...jointEpochs(5, 5), 'evaluate'],
    graph: true,
    table: 10,
    reRanks: [],
    reRankJobs: [],
    shards: [
      ['train', 0, 4096],
      ['train', 4096, 8192],
      ['train', 8192, 10000],
      ['validation', 0, 2000],
    ],
  },
  // CIFAR-10 (50 000 training images less 5 000 for validation; 10 000 test), C&W on the fly every 10 of 200
  // epochs: the ensemble is attacked before epochs 10, 20, …, 190 (19 times); the graph also runs a re-rank job
  // at 0 that hands on the reference ranking. Train shards: 10 of 4096 and one of 45 000 − 40 960 = 4040.
  'paper-cifar10.json': {
    sizes: { train: 45000, validation: 5000, test: 10000 },
    steps: [
      'reference',
      'robustness train',
      'robustness validation',
      ...jointEpochs(
        5,
        200,
        range(19).map((i) => 10 * (i + 1)),
      ),
      'evaluate',
    ],
    graph: true,
    table: 10,
    reRanks: range(19).map((i) => 10 * (i + 1)),
    reRankJobs: range(20).map((i) => 10 * i),
    shards: [
      ...range(10).map((i): [string, number, number] => ['train', 4096 * i, 4096 * (i + 1)]),
      ['train', 40960, 45000],
      ['validation', 0, 4096],
      ['validation', 4096, 5000],
    ],
  },
  // one vanilla member: a single job, no reference, no shards, one soft-label value.
  'vanilla-synthetic.json': {
    sizes: { train: 512, validation: 128, test: 128 },
    steps: ['member m0', 'evaluate'],
    graph: false,
    table: 1,
    reRanks: [],
    reRankJobs: [],
    shards: [],
  },
};

const present = existsSync(EXAMPLES);
if (!present)
  console.warn(`plan.test.ts: SKIPPING the example specs: ${EXAMPLES} is absent (the shared examples folder)`);

describe.skipIf(!present)('the plan of every example spec', () => {
  const files = present ? readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')) : [];

  it('every example has hand-worked expectations', () => {
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  for (const file of Object.keys(expected)) {
    it(file, () => {
      const spec = resolved(JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')));
      const x = expected[file]!;
      const steps = planSteps(spec, x.sizes);
      expect(steps.map(stepKey)).toEqual(x.steps);
      expect(usesGraph(spec)).toBe(x.graph);
      expect(tableSize(spec)).toBe(x.table);
      expect(reRankEpochs(spec)).toEqual(x.reRanks);
      expect(range(spec.training.epochs + 1).filter((e) => reRanksBefore(spec, e))).toEqual(x.reRankJobs);
      expect(planShards(spec, x.sizes, SHARD_EXAMPLES).map((s) => [s.split, s.start, s.end])).toEqual(x.shards);
      // seeds: member m draws with (seed, m), the reference with (seed, 1 000 000)
      expect(memberSeeds(spec)).toEqual(range(spec.ensemble.members).map((m) => seedOf(spec.seed, m)));
      expect(referenceSeed(spec.seed)).toBe(seedOf(spec.seed, 1_000_000));
      const ref = steps.find((s) => s.step === 'reference');
      if (ref) expect(ref).toEqual({ step: 'reference', seed: seedOf(spec.seed, 1_000_000) });
      for (const s of steps) if (s.step === 'member') expect(s.seed).toBe(seedOf(spec.seed, s.member));
      // evaluation: no post-hoc calibrator in these methods; the test subsets are the evaluated model's own
      expect(steps.at(-1)).toEqual({ step: 'evaluate', posthoc: null, testRobustness: 'self' });
    });
  }
});

describe('plan decisions', () => {
  const base = {
    name: 'p',
    seed: 2,
    dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], trainLimit: 40, validationSize: 20, testLimit: 10 },
    model: { arch: 'mlp' },
    training: { epochs: 5, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
  };

  it('on the fly every 2 of 5 epochs: members re-rank before epochs 2 and 4; the joint ensemble trains 0–1 on the ranking of 0, 2–3 on 2, 4 on 4', () => {
    const spec = resolved({
      ...base,
      method: { kind: 'ar-adals', subsets: 3, robustness: { source: 'on-the-fly', everyEpochs: 2 } },
      ensemble: { members: 2, mode: 'independent' },
      evaluation: { robustnessSubsets: 0 },
    });
    expect(reRankEpochs(spec)).toEqual([2, 4]);
    expect(planSteps(spec, { train: 40, validation: 20, test: 10 }).map(stepKey)).toEqual([
      'reference',
      'robustness train',
      'robustness validation',
      'member m0',
      'rerank m0 e2',
      'rerank m0 e4',
      'member m1',
      'rerank m1 e2',
      'rerank m1 e4',
      'evaluate',
    ]);
    expect(range(5).map((e) => rankingEpochOf(spec, e))).toEqual([0, 0, 2, 2, 4]);
  });

  it('test subsets on the vanilla reference: the reference is attacked on test only when the split can fill them', () => {
    const spec = (testLimit: number) =>
      resolved({
        ...base,
        dataset: { ...base.dataset, testLimit },
        method: { kind: 'temperature-scaling' },
        evaluation: { robustnessSubsets: 4, robustness: { reference: 'vanilla', attack: 'deepfool-l2' } },
      });
    expect(planSteps(spec(10), { train: 40, validation: 20, test: 10 })).toEqual([
      { step: 'reference', seed: seedOf(2, 1_000_000) },
      { step: 'robustness', split: 'test', attack: 'deepfool-l2' },
      { step: 'member', member: 0, seed: seedOf(2, 0) },
      { step: 'evaluate', posthoc: 'temperature-scaling', testRobustness: 'vanilla' },
    ]);
    // 3 test examples cannot fill 4 subsets: no test attack, and the evaluation has no test robustness
    expect(planSteps(spec(3), { train: 40, validation: 20, test: 3 }).map(stepKey)).toEqual([
      'reference',
      'member m0',
      'evaluate',
    ]);
  });

  it('robustness files keep never-fooled radii as null; the reference trains as member −1, vanilla, with its own seed', () => {
    const file = encodeRobustness('fmn-l2', Float32Array.from([1.5, Number.POSITIVE_INFINITY, 0.25]));
    expect(JSON.parse(JSON.stringify(file))).toEqual({ attack: 'fmn-l2', n: 3, norms: [1.5, null, 0.25] });
    expect(Array.from(decodeRobustness(file))).toEqual([1.5, Number.POSITIVE_INFINITY, 0.25]);
    expect(unfooledCount([Number.POSITIVE_INFINITY, 1], [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY])).toBe(3);
    const spec = resolved({ ...base, method: { kind: 'vanilla' } });
    expect(referenceTraining(spec)).toEqual({ member: -1, seed: seedOf(2, 1_000_000), methodKind: 'vanilla' });
    const one = singleSubsetRanking(3, 2);
    expect([Array.from(one.trainSubsetOf), Array.from(one.valSubsetOf)]).toEqual([
      [0, 0, 0],
      [0, 0],
    ]);
  });

  it('epoch records in run order: member by member when independent; per epoch the members, then the ensemble, when joint', () => {
    const recs = [
      { member: 'ensemble' as const, epoch: 2 },
      { member: 1, epoch: 1 },
      { member: 0, epoch: 2 },
      { member: 'ensemble' as const, epoch: 1 },
      { member: 1, epoch: 2 },
      { member: 0, epoch: 1 },
    ];
    const key = (r: { member: number | 'ensemble'; epoch: number }) => `${r.member}/${r.epoch}`;
    const sorted = (mode: string) =>
      [...recs].sort(epochRecordOrder({ ensemble: { members: 2, mode } } as ResolvedSpec)).map(key);
    expect(sorted('joint')).toEqual(['0/1', '1/1', 'ensemble/1', '0/2', '1/2', 'ensemble/2']);
    expect(sorted('independent').slice(0, 4)).toEqual(['0/1', '0/2', '1/1', '1/2']);
  });

  it('artifact keys are the run folder names earlier versions wrote', () => {
    expect([
      KEYS.referenceModel,
      KEYS.robustness('train'),
      KEYS.shard('validation', 3),
      KEYS.member(2),
      KEYS.jointFile,
      KEYS.jointSetup,
      KEYS.valProbs(1, 4),
      KEYS.ranking(6),
      KEYS.selfRobustnessTest,
      KEYS.exported(1, 0),
      KEYS.exported(3, 2),
      KEYS.report,
      KEYS.spec,
    ]).toEqual([
      'reference/model',
      'reference/robustness-train.json',
      'reference/shards/robustness-validation-3.json',
      'members/m2',
      'joint.json',
      'joint/setup.json',
      'joint/m1-e4.f32',
      'joint/ranking-e6.json',
      'robustness-test.json',
      'model',
      'models/m2',
      'report.json',
      'spec.json',
    ]);
    // the reference folder's own names, under which a shared reference directory is read
    expect(`${KEYS.referenceDir}/${KEYS.inReference.robustness('test')}`).toBe('reference/robustness-test.json');
    expect(`${KEYS.referenceDir}/${KEYS.inReference.model}`).toBe(KEYS.referenceModel);
  });
});

describe('joint epoch update', () => {
  it('averages the members, moves each subset by α(conf − acc), clips, and averages the members’ training figures', () => {
    const spec = resolved({
      name: 'j',
      seed: 1,
      dataset: { name: 'synthetic', classes: 2, shape: [2, 2, 1], validationSize: 4 },
      model: { arch: 'mlp' },
      training: { epochs: 2, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
      method: { kind: 'ar-adals', subsets: 2, alpha: 0.5 },
      ensemble: { members: 2, mode: 'joint' },
    });
    // 4 validation examples, 2 classes; labels 0 1 0 1; subsets 0 0 1 1
    const a = Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.7, 0.3]);
    const b = Float32Array.from([0.7, 0.3, 0.4, 0.6, 0.2, 0.8, 0.5, 0.5]);
    // average: [0.8 0.2] [0.3 0.7] [0.4 0.6] [0.6 0.4]
    // subset 0: top confidences 0.8, 0.7 (both right) → conf 0.75, acc 1 → 0.9 − 0.5·(0.75 − 1) = 1.025 → clipped to 1
    // subset 1: top 0.6 (class 1, label 0: wrong), 0.6 (class 0, label 1: wrong) → conf 0.6, acc 0 → 0.9 − 0.3 = 0.6
    const rec = (member: number, trainLoss: number, trainAccuracy: number, learningRate: number) =>
      ({ epoch: 2, member, trainLoss, trainAccuracy, learningRate, seconds: 1 }) as EpochRecord;
    const out = jointEpochUpdate(spec, {
      epoch: 1,
      valProbs: [a, b],
      valLabels: [0, 1, 0, 1],
      valSubsetOf: [0, 0, 1, 1],
      pTrue: [0.9, 0.9],
      memberRecords: [rec(0, 1, 0.5, 0.2), rec(1, 3, 0.75, 0.05)],
      classes: 2,
      seconds: 7,
    });
    expect(out.pTrue[0]).toBe(1);
    expect(out.pTrue[1]).toBeCloseTo(0.6, 6);
    // ε = (p̃ − 1)·Z/(1 − Z) with Z = 2: 0 and 0.8
    expect(out.epsilon[0]).toBeCloseTo(0, 12);
    expect(out.epsilon[1]).toBeCloseTo(0.8, 6);
    expect(out.record.epoch).toBe(2);
    expect(out.record.member).toBe('ensemble');
    expect(out.record.trainLoss).toBeCloseTo(2, 12);
    expect(out.record.trainAccuracy).toBeCloseTo(0.625, 12);
    // the last member's learning rate; the executor's own seconds
    expect(out.record.learningRate).toBe(0.05);
    expect(out.record.seconds).toBe(7);
    expect(out.record.softLabels!.valConf[0]).toBeCloseTo(0.75, 6);
    expect(out.record.softLabels!.valAcc).toEqual([1, 0]);
    // validation accuracy of the average: examples 0 and 1 right, 2 and 3 wrong
    expect(out.record.validation!.accuracy).toBe(0.5);
  });
});

describe('module graph', () => {
  it('@arcal/core/plan loads no tfjs (a child process records every module it resolves)', async () => {
    // from the workers' package, which imports the plan by its package name as the worker's own process does
    const r = await modulesResolvedBy(
      `const p = await import('@arcal/core/plan'); if (typeof p.planSteps !== 'function') process.exit(3);`,
      new URL('../../../workers/', import.meta.url),
    );
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const urls = r.urls;
    expect(urls.some((u) => u.endsWith('/packages/core/src/plan/index.ts'))).toBe(true);
    expect(urls.filter((u) => /tfjs|@tensorflow|\/packages\/core\/src\/backend\//.test(u))).toEqual([]);
  }, 70_000);
});
