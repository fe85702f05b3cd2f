import { type ExperimentReport, type StudyDocument, studyProblems, validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import {
  aggregateStudy,
  expandStudy,
  meanStd,
  reportMetric,
  selectBest,
  studyMarkdown,
  withPath,
} from '../src/study/index.ts';

const base = {
  dataset: { name: 'synthetic', validationSize: 20 },
  model: { arch: 'mlp' },
  training: { epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 0.01 },
  method: { kind: 'label-smoothing' },
};

/** A report with only what the study code reads. */
function fakeReport(o: {
  testEce: number;
  valEce: number[];
  ensembleValEce?: number;
  shift?: number[];
}): ExperimentReport {
  const epochs: ExperimentReport['epochs'] = [];
  // an earlier epoch that must be ignored, then the last epoch per member
  o.valEce.forEach((v, m) => {
    epochs.push({
      epoch: 1,
      member: m,
      trainLoss: 1,
      trainAccuracy: 0.5,
      learningRate: 0.1,
      seconds: 1,
      validation: { accuracy: 0.5, nll: 1, ece: 0.9, brier: 0.5, confidence: 0.5, count: 10 },
    });
    epochs.push({
      epoch: 2,
      member: m,
      trainLoss: 1,
      trainAccuracy: 0.5,
      learningRate: 0.1,
      seconds: 1,
      validation: { accuracy: 0.5, nll: 1, ece: v, brier: 0.5, confidence: 0.5, count: 10 },
    });
  });
  if (o.ensembleValEce !== undefined) {
    epochs.push({
      epoch: 2,
      member: 'ensemble',
      trainLoss: 1,
      trainAccuracy: 0.5,
      learningRate: 0.1,
      seconds: 1,
      validation: { accuracy: 0.5, nll: 1, ece: o.ensembleValEce, brier: 0.5, confidence: 0.5, count: 10 },
    });
  }
  return {
    arcal: 'test',
    spec: {},
    backend: 'cpu',
    dataset: { name: 'synthetic', source: 'test', train: 1, validation: 1, test: 1, checksum: 'x' },
    epochs,
    final: { accuracy: 0.9, nll: 0.3, ece: o.testEce, brier: 0.1, confidence: 0.9, count: 10, reliability: [] },
    members: [],
    bySubset: [],
    notes: [],
    timings: { totalSeconds: 10, trainSeconds: 8, attackSeconds: 1, evalSeconds: 1 },
    ...(o.shift
      ? { shift: { rows: o.shift.map((ece, i) => ({ corruption: `c${i}`, severity: 1, accuracy: 0.5, ece, nll: 1 })) } }
      : {}),
  };
}

describe('expandStudy', () => {
  const doc: StudyDocument = { name: 'ls', base, vary: { 'method.epsilon': [0.05, 0.1], seed: [0, 1, 2] } };

  it('is the cartesian product, first path outermost, seeds set and excluded from the configuration', () => {
    const ex = expandStudy(doc);
    expect(ex.map((e) => [(e.spec.method as { epsilon: number }).epsilon, e.seed])).toEqual([
      [0.05, 0],
      [0.05, 1],
      [0.05, 2],
      [0.1, 0],
      [0.1, 1],
      [0.1, 2],
    ]);
    expect(new Set(ex.map((e) => e.configKey)).size).toBe(2);
    expect(ex[4].config).toEqual({ 'method.epsilon': 0.1 });
    expect(ex[4].slug).toBe('method.epsilon=0.1_seed=1');
    expect(ex[4].name).toBe('ls.method.epsilon=0.1_seed=1');
    expect(ex[4].spec.name).toBe(ex[4].name);
    // base untouched, every expanded spec valid
    expect((base.method as Record<string, unknown>).epsilon).toBeUndefined();
    for (const e of ex) expect(validateSpec(e.spec).ok).toBe(true);
  });

  it('creates missing objects, refuses to descend into a non-object, and gives one experiment for an empty grid', () => {
    expect(withPath({ a: 1 }, 'b.c.d', 2)).toEqual({ a: 1, b: { c: { d: 2 } } });
    expect(() => withPath({ a: 1 }, 'a.b', 2)).toThrow(/a is not an object/);
    const one = expandStudy({ name: 's', base: { ...base, seed: 7 } });
    expect(one).toHaveLength(1);
    expect(one[0].slug).toBe('base');
    expect(one[0].seed).toBe(7);
  });

  it('refuses two grid points with the same directory name', () => {
    expect(() => expandStudy({ name: 's', base, vary: { 'dataset.path': ['a/b', 'a b'] } })).toThrow(
      /both map to the name/,
    );
  });

  it('study document problems: select.by must be varied and not the seed', () => {
    expect(studyProblems(doc)).toEqual([]);
    expect(
      studyProblems({ ...doc, select: { metric: 'validation.ece', by: 'method.alpha' } }).map((p) => p.path),
    ).toEqual(['select.by']);
    expect(studyProblems({ ...doc, select: { metric: 'validation.ece', by: 'seed' } }).map((p) => p.path)).toEqual([
      'select.by',
    ]);
    expect(studyProblems({ ...doc, select: { metric: 'validation.bogus' } }).length).toBeGreaterThan(0);
  });
});

describe('aggregation', () => {
  it('mean and sample standard deviation in closed form', () => {
    // deviations −0.1, 0, 0.1: Σ² = 0.02, /(n − 1) = 0.01, √ = 0.1
    const s = meanStd([0.1, 0.2, 0.3]);
    expect(s.mean).toBeCloseTo(0.2, 12);
    expect(s.std).toBeCloseTo(0.1, 12);
    expect(meanStd([4]).std).toBeNull();
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x−5)² = 32, sample variance 32/7
    expect(meanStd([2, 4, 4, 4, 5, 5, 7, 9]).std).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  it('validation metrics: last epoch, member mean, or the ensemble record when there is one', () => {
    expect(reportMetric(fakeReport({ testEce: 0.1, valEce: [0.02, 0.04] }), 'validation.ece')).toBeCloseTo(0.03, 12);
    expect(
      reportMetric(fakeReport({ testEce: 0.1, valEce: [0.02, 0.04], ensembleValEce: 0.01 }), 'validation.ece'),
    ).toBe(0.01);
    expect(reportMetric(fakeReport({ testEce: 0.1, valEce: [0.02], shift: [0.1, 0.3] }), 'shift.ece')).toBeCloseTo(
      0.2,
      12,
    );
    expect(reportMetric(fakeReport({ testEce: 0.1, valEce: [0.02] }), 'shift.ece')).toBeUndefined();
  });

  it('groups by configuration over seeds and selects the ε with the lowest validation ECE per group', () => {
    const doc: StudyDocument = {
      name: 'ls',
      base,
      vary: { 'model.width': [1, 2], 'method.epsilon': [0.05, 0.1], seed: [0, 1] },
    };
    const ex = expandStudy(doc);
    // validation ECE per (width, ε): (1, 0.05) → 0.04, 0.06 ; (1, 0.1) → 0.02, 0.02 ; (2, 0.05) → 0.01, 0.03 ; (2, 0.1) → 0.05, 0.05
    const val: Record<string, number[]> = {
      '1,0.05': [0.04, 0.06],
      '1,0.1': [0.02, 0.02],
      '2,0.05': [0.01, 0.03],
      '2,0.1': [0.05, 0.05],
    };
    const items = ex.map((e) => {
      const key = `${e.config['model.width']},${e.config['method.epsilon']}`;
      return { experiment: e, report: fakeReport({ testEce: 0.1 + e.seed * 0.02, valEce: [val[key][e.seed]] }) };
    });
    const agg = aggregateStudy(items);
    expect(agg).toHaveLength(4);
    expect(agg[0].seeds).toEqual([0, 1]);
    expect(agg[0].metrics['validation.ece']!.mean).toBeCloseTo(0.05, 12);
    expect(agg[0].metrics['validation.ece']!.std).toBeCloseTo(Math.sqrt(0.0002), 12);
    // test ECE 0.10 and 0.12 in every configuration: mean 0.11, std √(2·0.01²/1)
    expect(agg[2].metrics['test.ece']!.mean).toBeCloseTo(0.11, 12);
    expect(agg[2].metrics['test.ece']!.std).toBeCloseTo(Math.sqrt(0.0002), 12);
    const sel = selectBest(agg, { metric: 'validation.ece', by: 'method.epsilon' });
    expect(sel.groups.map((g) => [g.fixed, g.best.value])).toEqual([
      [{ 'model.width': 1 }, 0.1],
      [{ 'model.width': 2 }, 0.05],
    ]);
    const overall = selectBest(agg, { metric: 'validation.ece' });
    expect(overall.groups).toHaveLength(1);
    expect(overall.groups[0].best.value).toEqual({ 'model.width': 1, 'method.epsilon': 0.1 });
    // accuracy is maximised
    expect(selectBest(agg, { metric: 'test.accuracy' }).higherIsBetter).toBe(true);

    const md = studyMarkdown('ls', agg, sel);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| model.width'));
    expect(rows).toHaveLength(4);
    expect(rows.filter((r) => r.endsWith('★ |'))).toHaveLength(2);
    expect(rows[0]).toContain('| 11.00 ± 1.41 |');
  });
});
