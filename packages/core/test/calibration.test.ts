import { describe, expect, it } from 'vitest';
import {
  brierScore,
  calibrationBySubset,
  expectedCalibrationError,
  negativeLogLikelihood,
  predictionVariance,
  predictionVarianceBySubset,
  reliabilityDiagram,
  robustnessSubsets,
  softLabelTargets,
  subsetStats,
  updateSoftLabels,
} from '../src/calibration/index.ts';

// Four examples, 2 classes, K = 4 bins of width 0.25.
//  ex0: p=(0.9,0.1) y=0 → conf .9, bin 3, correct
//  ex1: p=(0.8,0.2) y=1 → conf .8, bin 3, wrong
//  ex2: p=(0.4,0.6) y=1 → conf .6, bin 2, correct
//  ex3: p=(0.5,0.5) y=1 → conf .5 (tie → class 0), bin 1 ((.25,.5]), wrong
// bin3: n=2 acc .5 conf .85 gap .35; bin2: n=1 acc 1 conf .6 gap .4; bin1: n=1 acc 0 conf .5 gap .5
// l1 = (2·.35 + .4 + .5)/4 = 0.4; l2 = sqrt((2·.1225 + .16 + .25)/4) = sqrt(0.16375); max = 0.5
const probs = [
  [0.9, 0.1],
  [0.8, 0.2],
  [0.4, 0.6],
  [0.5, 0.5],
];
const labels = [0, 1, 1, 1];

describe('expectedCalibrationError', () => {
  it('matches the hand-computed l1, l2 and max values', () => {
    expect(expectedCalibrationError(probs, labels, { bins: 4 })).toBeCloseTo(0.4, 12);
    expect(expectedCalibrationError(probs, labels, { bins: 4, norm: 'l2' })).toBeCloseTo(Math.sqrt(0.16375), 12);
    expect(expectedCalibrationError(probs, labels, { bins: 4, norm: 'max' })).toBeCloseTo(0.5, 12);
  });
  it('accepts flat row-major probabilities', () => {
    expect(expectedCalibrationError(probs.flat(), labels, { bins: 4 })).toBeCloseTo(0.4, 12);
  });
  it('puts confidence exactly k/K into bin k−1 (right-closed bins)', () => {
    const d = reliabilityDiagram(
      [
        [0.5, 0.5],
        [0.75, 0.25],
      ],
      [0, 0],
      { bins: 4 },
    );
    expect(d.map((b) => b.count)).toEqual([0, 1, 1, 0]);
  });
  it('puts confidence 0 into the first bin', () => {
    // all-zero rows (degenerate but possible after rounding) have confidence 0
    const d = reliabilityDiagram([[0, 0]], [1], { bins: 5 });
    expect(d[0].count).toBe(1);
  });
  it('is zero for a perfectly calibrated bin', () => {
    // 4 examples at confidence 0.75, 3 correct
    const p = [
      [0.75, 0.25],
      [0.75, 0.25],
      [0.75, 0.25],
      [0.75, 0.25],
    ];
    expect(expectedCalibrationError(p, [0, 0, 0, 1], { bins: 10 })).toBeCloseTo(0, 12);
  });
});

describe('nll and brier', () => {
  it('match closed forms', () => {
    expect(negativeLogLikelihood(probs, labels)).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.2) + Math.log(0.6) + Math.log(0.5)) / 4,
      12,
    );
    // brier: ex0 .01+.01, ex1 .64+.64, ex2 .16+.16, ex3 .25+.25 → 2.12/4
    expect(brierScore(probs, labels)).toBeCloseTo(2.12 / 4, 12);
  });
});

describe('robustnessSubsets', () => {
  it('ranks ascending into near-equal subsets with ties by index', () => {
    const r = [5, 1, 3, 3, Number.POSITIVE_INFINITY, 0, 2];
    // order: 5(0), 1(1), 6(2), 2(3), 3(3), 0(5), 4(inf); N=7, R=3 → cuts at 2, 4 → sizes 2,2,3
    expect(robustnessSubsets(r, 3)).toEqual([
      [5, 1],
      [6, 2],
      [3, 0, 4],
    ]);
  });
  it('sizes differ by at most one', () => {
    for (const [n, R] of [
      [10, 3],
      [11, 4],
      [5, 5],
      [3, 5],
    ]) {
      const s = robustnessSubsets(
        Array.from({ length: n }, (_, i) => (i * 7) % n),
        R,
      ).map((x) => x.length);
      expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      expect(s.reduce((a, b) => a + b, 0)).toBe(n);
    }
  });
  it('calibrationBySubset reports acc, conf, ece and robustness range per subset', () => {
    const rows = calibrationBySubset(probs, labels, [0.1, 0.2, 0.3, 0.4], 2, { bins: 4 });
    // subset 0 = ex0, ex1: acc .5, conf .85, both in bin 3 → ece .35
    expect(rows[0]).toMatchObject({ count: 2, acc: 0.5, minRobustness: 0.1, maxRobustness: 0.2 });
    expect(rows[0].conf).toBeCloseTo(0.85, 12);
    expect(rows[0].ece).toBeCloseTo(0.35, 12);
    // subset 1 = ex2, ex3: acc .5, conf .55, ece = (.4 + .5)/2
    expect(rows[1].conf).toBeCloseTo(0.55, 12);
    expect(rows[1].ece).toBeCloseTo(0.45, 12);
  });
  it("calibrationBySubset reports each subset's NLL over its own examples only", () => {
    // subset 0 = ex0 (p_y = .9), ex1 (p_y = .2): −(ln .9 + ln .2)/2 = (0.105360516 + 1.609437912)/2
    // subset 1 = ex2 (p_y = .6), ex3 (p_y = .5): −(ln .6 + ln .5)/2 = (0.510825624 + 0.693147181)/2
    const rows = calibrationBySubset(probs, labels, [0.1, 0.2, 0.3, 0.4], 2, { bins: 4 });
    expect(rows[0].nll).toBeCloseTo(0.857399214, 8);
    expect(rows[1].nll).toBeCloseTo(0.601986402, 8);
  });
});

describe('predictionVariance', () => {
  it('matches the formula on a hand-computed case', () => {
    // M=2, N=2, Z=2. ex0: members (.8,.2),(.6,.4) → avg picks class 0: p̂ = .8,.6, mean .7 → ss = .02
    // ex1: (.3,.7),(.5,.5) → avg (.4,.6) picks 1: .7,.5 mean .6 → ss .02 ; σ² = 1/(1)·1/2·(.04) = .02
    const v = predictionVariance([
      [
        [0.8, 0.2],
        [0.3, 0.7],
      ],
      [
        [0.6, 0.4],
        [0.5, 0.5],
      ],
    ]);
    expect(v).toBeCloseTo(0.02, 12);
  });
  it('is zero for identical members', () => {
    expect(predictionVariance([probs, probs, probs])).toBeCloseTo(0, 15);
  });
});

describe('predictionVarianceBySubset', () => {
  // M=2, N=4, Z=2, R=2. Robustness [3, 1, 4, 2] ranks examples 1, 3 (subset 0) before 0, 2 (subset 1).
  // ex0: (.9,.1),(.7,.3) → class 0: .9,.7 mean .8 → ss .02      ex1: (.5,.5),(.5,.5) → ss 0 (tie picks class 0)
  // ex2: (.2,.8),(.2,.8) → class 1: ss 0                         ex3: (.6,.4),(.2,.8) → avg (.4,.6) picks 1: .4,.8 → ss .08
  // subset 0 = {1, 3}: (0 + .08)/(M−1)/2 = .04; subset 1 = {0, 2}: (.02 + 0)/1/2 = .01; overall (.1)/1/4 = .025.
  const a = [
    [0.9, 0.1],
    [0.5, 0.5],
    [0.2, 0.8],
    [0.6, 0.4],
  ];
  const b = [
    [0.7, 0.3],
    [0.5, 0.5],
    [0.2, 0.8],
    [0.2, 0.8],
  ];
  it('matches the formula on each subset of a hand-computed case', () => {
    const v = predictionVarianceBySubset([a, b], [3, 1, 4, 2], 2);
    expect(v[0]).toBeCloseTo(0.04, 12);
    expect(v[1]).toBeCloseTo(0.01, 12);
  });
  it('with R = 1 equals the overall variance', () => {
    expect(predictionVarianceBySubset([a, b], [3, 1, 4, 2], 1)[0]).toBeCloseTo(0.025, 12);
    expect(predictionVariance([a, b])).toBeCloseTo(0.025, 12);
  });
  it('needs two members', () => {
    expect(() => predictionVarianceBySubset([a], [3, 1, 4, 2], 2)).toThrow(RangeError);
  });
});

describe('soft labels (Eq. 1, 3, 4)', () => {
  it('reproduces the worked example: Z=10, α=1, p̃=1, conf .95, acc .90 → p̃ .95, ε .0556', () => {
    const r = updateSoftLabels([1], [{ conf: 0.95, acc: 0.9 }], { alpha: 1, numClasses: 10 });
    expect(r.pTrue[0]).toBeCloseTo(0.95, 12);
    expect(r.epsilon[0]).toBeCloseTo((0.05 * 10) / 9, 12);
    expect(r.epsilon[0].toFixed(4)).toBe('0.0556');
  });
  it('clips to (1/Z, 1]', () => {
    const r = updateSoftLabels(
      [0.2, 0.99],
      [
        { conf: 0.9, acc: 0.1 },
        { conf: 0.1, acc: 0.9 },
      ],
      { alpha: 1, numClasses: 10 },
    );
    expect(r.pTrue[0]).toBeCloseTo(0.1 + 1e-6, 12);
    expect(r.pTrue[1]).toBe(1);
    expect(r.epsilon[1]).toBeCloseTo(0, 12);
    // ε at the lower clip is just under 1 (full smoothing)
    expect(r.epsilon[0]).toBeLessThan(1);
    expect(r.epsilon[0]).toBeGreaterThan(0.9999);
  });
  it('builds targets whose correct class is p̃_r and which sum to 1', () => {
    const t = softLabelTargets([2, 0], [1, 0], [1, 0.7], 4);
    expect(Array.from(t.slice(0, 4)).map((x) => +x.toFixed(6))).toEqual([0.1, 0.1, 0.7, 0.1]);
    expect(Array.from(t.slice(4, 8))).toEqual([1, 0, 0, 0]);
    // Eq. 1 with ε = (0.7 − 1)·4/(1 − 4) = 0.4: wrong classes get ε/Z = 0.1 ✓
  });
  it('subsetStats averages confidence and accuracy per subset', () => {
    const s = subsetStats(probs, labels, [0, 0, 1, 1], 2);
    expect(s[0].conf).toBeCloseTo(0.85, 12);
    expect(s[0].acc).toBeCloseTo(0.5, 12);
    expect(s[1].acc).toBeCloseTo(0.5, 12);
  });
});
