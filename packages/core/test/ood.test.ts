import { describe, expect, it } from 'vitest';
import { auroc, entropyHistogram, oodScores, predictiveEntropy } from '../src/ood/index.ts';
import { Rng } from '../src/util/rng.ts';

describe('predictiveEntropy', () => {
  it('matches closed forms: one-hot 0, uniform ln K, two-point mix', () => {
    const h = predictiveEntropy([1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, 0], 3);
    expect(h[0]).toBe(0);
    expect(h[1]).toBeCloseTo(Math.log(3), 12);
    expect(h[2]).toBeCloseTo(Math.log(2), 12);
  });
  it('rejects a length that is not a multiple of classes', () => {
    expect(() => predictiveEntropy([0.5, 0.5, 0.1], 2)).toThrow(/multiple/);
  });
});

describe('entropyHistogram', () => {
  it('bins by hand and keeps the right edge in the last bin', () => {
    const hist = entropyHistogram([0, 0.1, 0.25, 0.5, 0.99, 1, 1.5, -0.1], 4, [0, 1]);
    expect(hist.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    // [0,.25): 0, .1 | [.25,.5): .25 | [.5,.75): .5 | [.75,1]: .99, 1
    expect(hist.counts).toEqual([2, 1, 1, 2]);
    expect(hist.outside).toBe(2);
    expect(hist.density[0]).toBeCloseTo(2 / (8 * 0.25), 12);
  });
});

describe('auroc', () => {
  it('hand-computed case with ties', () => {
    // pairs (in, out): (.9,.5)=1 (.9,.1)=1 (.5,.5)=½ (.5,.1)=1 (.5,.5)=½ (.5,.1)=1 → 5/6
    expect(auroc([0.9, 0.5, 0.5], [0.5, 0.1])).toBeCloseTo(5 / 6, 14);
  });
  it('closed forms: perfect 1, reversed 0, identical 0.5', () => {
    expect(auroc([3, 4, 5], [0, 1, 2])).toBe(1);
    expect(auroc([0, 1, 2], [3, 4, 5])).toBe(0);
    expect(auroc([1, 2, 3], [1, 2, 3])).toBe(0.5);
    expect(auroc([7, 7], [7, 7, 7])).toBe(0.5);
  });
  it('equals the O(n²) pair count on random tied integer scores', () => {
    const rng = new Rng(11);
    const a = Array.from({ length: 57 }, () => rng.int(10));
    const b = Array.from({ length: 43 }, () => rng.int(10) - 2);
    let s = 0;
    for (const x of a) for (const y of b) s += x > y ? 1 : x === y ? 0.5 : 0;
    expect(auroc(a, b)).toBeCloseTo(s / (a.length * b.length), 12);
  });
});

describe('oodScores', () => {
  it('gives max probability and negative entropy per row', () => {
    const s = oodScores([0.7, 0.2, 0.1, 0.2, 0.2, 0.6], 3);
    expect(Array.from(s.maxProb)).toEqual([0.7, 0.6]);
    const h0 = -(0.7 * Math.log(0.7) + 0.2 * Math.log(0.2) + 0.1 * Math.log(0.1));
    expect(s.negEntropy[0]).toBeCloseTo(-h0, 12);
    // confident in-distribution rows vs uniform-ish OOD rows separate perfectly under both scores
    const inP = [0.9, 0.05, 0.05, 0.05, 0.9, 0.05];
    const outP = [0.4, 0.3, 0.3, 0.34, 0.33, 0.33];
    const si = oodScores(inP, 3);
    const so = oodScores(outP, 3);
    expect(auroc(si.maxProb, so.maxProb)).toBe(1);
    expect(auroc(si.negEntropy, so.negEntropy)).toBe(1);
  });
});
