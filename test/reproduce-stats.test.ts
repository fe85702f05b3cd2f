/**
 * The verdicts' statistics against published values: t-table quantiles, closed-form t CDFs (ν = 1 is the
 * Cauchy distribution, ν = 2 has an algebraic CDF), closed forms of the incomplete beta function, Student's
 * sleep data (the paired example of R's t.test documentation) and Holm's adjustment worked by hand.
 */
import { describe, expect, it } from 'vitest';
import {
  equivalenceTest,
  holmAdjust,
  lnGamma,
  pairedTTest,
  regularizedIncompleteBeta,
  slope,
  studentTCdf,
  studentTQuantile,
} from '../scripts/reproduce/stats.ts';

describe('Student t distribution', () => {
  it('two-sided 95 % critical values match the printed t table', () => {
    // t₀.₉₇₅ from any statistics table, three decimals
    const table: Array<[number, number]> = [
      [1, 12.706],
      [2, 4.303],
      [3, 3.182],
      [4, 2.776],
      [9, 2.262],
      [30, 2.042],
    ];
    for (const [df, q] of table) expect(studentTQuantile(0.975, df), `df ${df}`).toBeCloseTo(q, 3);
    // the normal limit: z₀.₉₇₅ = 1.959964
    expect(studentTQuantile(0.975, 1e7)).toBeCloseTo(1.959964, 5);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.776, 3);
  });

  it('the CDF equals the closed forms for ν = 1 and ν = 2', () => {
    for (const t of [-30, -2.5, -1, -0.3, 0, 0.7, 1, 4, 50]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
    }
  });

  it('the incomplete beta function equals its closed forms', () => {
    for (const x of [0.01, 0.2, 0.5, 0.9, 0.999]) {
      for (const a of [0.5, 1, 2.5, 7]) {
        expect(regularizedIncompleteBeta(x, a, 1)).toBeCloseTo(x ** a, 12);
        expect(regularizedIncompleteBeta(x, 1, a)).toBeCloseTo(1 - (1 - x) ** a, 12);
      }
    }
    expect(regularizedIncompleteBeta(0.5, 3.3, 3.3)).toBeCloseTo(0.5, 12);
    // Γ(5) = 24, Γ(½) = √π
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });
});

describe('paired t-test', () => {
  it("Student's sleep data: t = −4.0621, df = 9, p = 0.002833, 95 % CI [−2.4599, −0.7001]", () => {
    const g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const r = pairedTTest(g1.map((v, i) => v - g2[i]))!;
    expect(r.n).toBe(10);
    expect(r.df).toBe(9);
    expect(r.mean).toBeCloseTo(-1.58, 12);
    expect(r.t).toBeCloseTo(-4.0621, 4);
    expect(r.p).toBeCloseTo(0.002833, 6);
    expect(r.ci[0]).toBeCloseTo(-2.4598858, 6);
    expect(r.ci[1]).toBeCloseTo(-0.7001142, 6);
  });

  it('needs two pairs; identical differences are certain unless they are all zero', () => {
    expect(pairedTTest([0.3])).toBeUndefined();
    expect(pairedTTest([0, 0, 0])!.p).toBe(1);
    expect(pairedTTest([0.2, 0.2, 0.2])!.p).toBe(0);
  });

  it('equivalence: each one-sided test at the t-table edge gives p = 0.025', () => {
    // d = (−1, 0, 1): mean 0, sd 1, se 1/√3; margin = 4.303/√3 puts (mean ± margin)/se at ±t₀.₉₇₅(2)
    const q = studentTQuantile(0.975, 2);
    const inside = equivalenceTest(pairedTTest([-1, 0, 1])!, q / Math.sqrt(3));
    expect(inside.pEquivalent).toBeCloseTo(0.025, 10);
    expect(inside.pBeyondMargin).toBe(1);
    // d = (9, 10, 11): mean 10 lies beyond a margin of 10 − 4.303/√3 by exactly t₀.₉₇₅(2)·se → two-sided 0.05
    const beyond = equivalenceTest(pairedTTest([9, 10, 11])!, 10 - q / Math.sqrt(3));
    expect(beyond.pBeyondMargin).toBeCloseTo(0.05, 10);
    expect(beyond.pEquivalent).toBeGreaterThan(0.97);
  });
});

describe('Holm adjustment and slope', () => {
  it('a hand-worked example: sorted p × (m − k + 1), made monotone', () => {
    // sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → max(0.06, 0.04) = 0.06
    const adj = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    const want = [0.03, 0.06, 0.06, 0.02];
    for (const [i, a] of adj.entries()) expect(a).toBeCloseTo(want[i], 12);
    // at α = 0.05 Holm rejects the two smallest; Bonferroni (0.05 / 4 = 0.0125) would reject the same two,
    // but 0.03 is not rejected although 0.03 < 0.05
    expect(adj.map((a) => a < 0.05)).toEqual([true, false, false, true]);
    expect(holmAdjust([0.6, 0.9])).toEqual([1, 1]);
  });

  it('least-squares slope against 1..n', () => {
    expect(slope([1, 3, 5])).toBeCloseTo(2, 12);
    // x̄ = 2, ȳ = 2: Σ(x − x̄)(y − ȳ) = −1·1 + 0 + 1·0 = −1, Σ(x − x̄)² = 2
    expect(slope([3, 1, 2])).toBeCloseTo(-0.5, 12);
  });
});
