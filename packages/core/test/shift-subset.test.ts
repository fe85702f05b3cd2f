import { describe, expect, it } from 'vitest';
import { shiftSubset } from '../src/experiment/evaluate-extra.ts';

describe('the corruption subset (evaluation.shiftLimit)', () => {
  it('is every test image when no limit is set or the limit is not below the count', () => {
    expect([...shiftSubset(5)]).toEqual([0, 1, 2, 3, 4]);
    expect([...shiftSubset(5, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect([...shiftSubset(5, 9)]).toEqual([0, 1, 2, 3, 4]);
  });

  it('draws `limit` distinct images in ascending order, the same on every call, spread over the whole split', () => {
    const a = shiftSubset(10_000, 2000);
    expect(a.length).toBe(2000);
    expect(new Set(a).size).toBe(2000);
    for (let i = 1; i < a.length; i++) expect(a[i]).toBeGreaterThan(a[i - 1]);
    expect(a[0]).toBeGreaterThanOrEqual(0);
    expect(a[a.length - 1]).toBeLessThan(10_000);
    expect([...shiftSubset(10_000, 2000)]).toEqual([...a]);
    // not a prefix: a uniform sample's mean index is 4999.5 with standard error 2887 / √2000 ≈ 65 (×0.9 for
    // sampling without replacement); 6 standard errors either way
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean - 4999.5)).toBeLessThan(6 * 65);
    // about a fifth of each tenth of the split
    for (let d = 0; d < 10; d++) {
      const inDecile = a.filter((v) => v >= d * 1000 && v < (d + 1) * 1000).length;
      expect(inDecile).toBeGreaterThan(140);
      expect(inDecile).toBeLessThan(260);
    }
  });
});
