import { describe, expect, it } from 'vitest';
import {
  type ExperimentReport,
  expandStudy,
  getPath,
  reportMetric,
  type StudyDocument,
  studyProblems,
  withPath,
} from '../src/index.ts';

const doc = (vary: unknown) => ({ name: 's', base: { seed: 1, method: { kind: 'vanilla' } }, vary });

describe('study vary keys', () => {
  it.each([
    [{ '__proto__.path': ['/etc'] }, 'vary.__proto__.path'],
    [{ $ne: null }, 'vary.$ne'],
    [{ x_y: [] }, 'vary.x_y'],
    [{ 'method..epsilon': [0.1] }, 'vary.method..epsilon'],
  ])('a key outside the dot-path pattern is a problem (case %#)', (vary, path) => {
    const problems = studyProblems(doc(vary));
    expect(problems.map((p) => p.path)).toContain(path);
  });

  it('an empty list is a problem, for a valid key too', () => {
    expect(studyProblems(doc({ 'method.epsilon': [] })).map((p) => p.path)).toContain('vary.method.epsilon');
  });

  it('valid keys with lists pass', () => {
    expect(studyProblems(doc({ 'method.epsilon': [0.05, 0.1], seed: [1, 2] }))).toEqual([]);
  });
});

describe('dot paths never reach a prototype', () => {
  it.each(['__proto__.polluted', 'constructor.prototype.polluted', 'method.__proto__.polluted'])(
    'withPath refuses %s and leaves Object.prototype alone',
    (path) => {
      expect(() => withPath({ method: {} }, path, 'x')).toThrow(/not a spec field/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('getPath reads own fields only', () => {
    expect(getPath({ a: { b: 2 } }, 'a.b')).toBe(2);
    expect(getPath({ a: {} }, 'a.toString')).toBeUndefined();
    expect(getPath({}, 'constructor')).toBeUndefined();
  });

  it('expansion of a document that skipped validation still cannot pollute', () => {
    const bad = doc({ 'constructor.prototype.polluted': [1] }) as unknown as StudyDocument;
    expect(() => expandStudy(bad)).toThrow(/not a spec field/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('an empty grid expands to nothing and is refused', () => {
    expect(() => expandStudy(doc({ 'method.epsilon': [] }) as unknown as StudyDocument)).toThrow(/grid is empty/);
  });

  it('no grid is the base alone', () => {
    const points = expandStudy({ name: 's', base: { seed: 3 } } as StudyDocument);
    expect(points.map((p) => [p.slug, p.seed])).toEqual([['base', 3]]);
  });
});

describe('selection metrics', () => {
  it("read the report's selection section, and are absent without one", () => {
    const metrics = { accuracy: 0.75, nll: 0.6, ece: 0.04, brier: 0.3, confidence: 0.8, count: 2000 };
    const report = { epochs: [], final: { ...metrics, ece: 0.09 }, selection: metrics } as unknown as ExperimentReport;
    expect(reportMetric(report, 'selection.ece')).toBe(0.04);
    expect(reportMetric(report, 'selection.nll')).toBe(0.6);
    expect(reportMetric(report, 'selection.accuracy')).toBe(0.75);
    expect(reportMetric({ ...report, selection: undefined }, 'selection.ece')).toBeUndefined();
  });
});
