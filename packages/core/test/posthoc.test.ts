import { describe, expect, it } from 'vitest';
import {
  applyIrm,
  applyIsotonic,
  applyTemperature,
  ccatLambda,
  ccatTargets,
  fitEtsWeights,
  fitIrm,
  fitIsotonic,
  fitMixNMatch,
  fitTemperature,
  MixNMatchCalibrator,
  meanNll,
  poolAdjacentViolators,
  temperatureNll,
} from '../src/posthoc/index.ts';
import { Rng } from '../src/util/rng.ts';

/** Independent softmax for the tests (plain, per row). */
function softmax(z: number[], T = 1): number[] {
  const m = Math.max(...z.map((v) => v / T));
  const e = z.map((v) => Math.exp(v / T - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
function sample(p: number[], rng: Rng): number {
  let u = rng.next();
  for (let k = 0; k < p.length; k++) {
    u -= p[k];
    if (u < 0) return k;
  }
  return p.length - 1;
}
function randomLogits(n: number, K: number, scale: number, rng: Rng): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: K }, () => scale * rng.normal()));
}

describe('fitTemperature', () => {
  for (const T0 of [0.5, 2.5]) {
    it(`recovers T0 = ${T0} from labels sampled from softmax(z/T0)`, () => {
      const rng = new Rng(100 + T0 * 10);
      const K = 10;
      const Z = randomLogits(20000, K, 3, rng);
      const labels = Z.map((z) => sample(softmax(z, T0), rng));
      const T = fitTemperature(Z.flat(), labels, K);
      expect(Math.abs(T / T0 - 1)).toBeLessThan(0.03);
      // and it is a minimum of the NLL: nearby temperatures are no better
      const f = temperatureNll(Z.flat(), labels, K, T);
      expect(f).toBeLessThanOrEqual(temperatureNll(Z.flat(), labels, K, T * 1.01) + 1e-12);
      expect(f).toBeLessThanOrEqual(temperatureNll(Z.flat(), labels, K, T / 1.01) + 1e-12);
    });
  }
  it('goes to the lower end of the range for perfectly separated logits', () => {
    const T = fitTemperature([5, 0, 0, 5], [0, 1], 2, { range: [0.05, 20] });
    expect(Math.abs(T / 0.05 - 1)).toBeLessThan(1e-6);
  });
  it('temperatureNll equals the hand formula', () => {
    const z = [1, 2, 0.5];
    const T = 2;
    const want = -Math.log(softmax(z, T)[1]);
    expect(temperatureNll(z, [1], 3, T)).toBeCloseTo(want, 12);
    expect(Array.from(applyTemperature(z, 3, T))).toEqual(softmax(z, T).map(Math.fround));
  });
});

describe('pool-adjacent-violators', () => {
  it('hand-computed sequence', () => {
    // [1,3,2,4,3,5] → (3,2) pool to 2.5, (4,3) pool to 3.5
    expect(Array.from(poolAdjacentViolators([1, 3, 2, 4, 3, 5]))).toEqual([1, 2.5, 2.5, 3.5, 3.5, 5]);
    // a cascade: [4,3,2,1] pools into one block of mean 2.5
    expect(Array.from(poolAdjacentViolators([4, 3, 2, 1]))).toEqual([2.5, 2.5, 2.5, 2.5]);
    // weighted: (3 w=1, 1 w=3) → (3 + 3)/4 = 1.5; then 2 > 1.5 stays
    expect(Array.from(poolAdjacentViolators([3, 1, 2], [1, 3, 1]))).toEqual([1.5, 1.5, 2]);
  });
  it('fitIsotonic pools tied x, keeps block ends as knots and interpolates between them', () => {
    // x: 0 0 1 2 3, y: 0 1 1 0 1 → tied x=0 pools to 0.5 (w 2); PAV on (0.5,1,0,1) w (2,1,1,1)
    // 1 > 0 violate → block (1,0) mean .5; (0.5 w2, 0.5 w2) equal; final [.5,.5,.5,1]
    const map = fitIsotonic([0, 0, 1, 2, 3], [0, 1, 1, 0, 1]);
    expect(map.x).toEqual([0, 2, 3]);
    expect(map.y).toEqual([0.5, 0.5, 1]);
    expect(applyIsotonic(map, -1)).toBe(0.5);
    expect(applyIsotonic(map, 2.5)).toBeCloseTo(0.75, 12);
    expect(applyIsotonic(map, 9)).toBe(1);
  });
});

describe('IRM', () => {
  it('is monotone in the input probability, keeps row order and rows sum to 1', () => {
    const rng = new Rng(5);
    const K = 5;
    const Z = randomLogits(3000, K, 2.5, rng);
    const labels = Z.map((z) => sample(softmax(z, 2), rng));
    const P = Z.flatMap((z) => softmax(z));
    const map = fitIrm(P, labels, K);
    for (let i = 1; i < map.x.length; i++) {
      expect(map.x[i]).toBeGreaterThan(map.x[i - 1]);
      expect(map.y[i]).toBeGreaterThanOrEqual(map.y[i - 1]);
    }
    let prev = -Infinity;
    for (let q = 0; q <= 1; q += 0.001) {
      const g = applyIsotonic(map, q);
      expect(g).toBeGreaterThanOrEqual(prev);
      prev = g;
    }
    const out = applyIrm(map, P, K);
    let worstSum = 0;
    let orderViolations = 0;
    for (let i = 0; i < 3000; i++) {
      const row = Array.from(out.subarray(i * K, i * K + K));
      worstSum = Math.max(worstSum, Math.abs(row.reduce((a, b) => a + b, 0) - 1));
      for (let a = 0; a < K; a++)
        for (let b = 0; b < K; b++) if (P[i * K + a] < P[i * K + b] && row[a] > row[b]) orderViolations++;
    }
    expect(worstSum).toBeLessThan(1e-5);
    expect(orderViolations).toBe(0);
  });
});

describe('ETS weights', () => {
  it('recover the weights of a known mixture (T given)', () => {
    const rng = new Rng(42);
    const K = 10;
    const T = 3;
    const w = [0.5, 0.3, 0.2];
    const Z = randomLogits(30000, K, 2.5, rng);
    const labels = Z.map((z) => {
      const pT = softmax(z, T);
      const p1 = softmax(z);
      return sample(
        pT.map((v, k) => w[0] * v + w[1] * p1[k] + w[2] / K),
        rng,
      );
    });
    const fit = fitEtsWeights(Z.flat(), labels, K, T);
    expect(fit[0] + fit[1] + fit[2]).toBeCloseTo(1, 12);
    for (let j = 0; j < 3; j++) expect(Math.abs(fit[j] - w[j])).toBeLessThan(0.05);
  });
  it('is exactly uniform when every logit vector appears once with every label', () => {
    // Σ_y −ln p_y ≥ K ln K with equality iff p is uniform, so w = (0, 0, 1) is the unique optimum.
    const rng = new Rng(3);
    const K = 4;
    const base = randomLogits(50, K, 2, rng);
    const Z: number[] = [];
    const labels: number[] = [];
    for (const z of base)
      for (let y = 0; y < K; y++) {
        Z.push(...z);
        labels.push(y);
      }
    const fit = fitEtsWeights(Z, labels, K, 2);
    expect(fit[2]).toBeCloseTo(1, 6);
    expect(fit[0]).toBeCloseTo(0, 6);
    expect(fit[1]).toBeCloseTo(0, 6);
  });
  it('puts all weight on softmax(z) when labels come from softmax(z) and the alternatives are far off', () => {
    const rng = new Rng(8);
    const K = 10;
    const Z = randomLogits(20000, K, 3, rng);
    const labels = Z.map((z) => sample(softmax(z), rng));
    const fit = fitEtsWeights(Z.flat(), labels, K, 4);
    expect(fit[1]).toBeGreaterThan(0.95);
  });
});

describe('fitMixNMatch', () => {
  it('beats or matches temperature scaling on validation NLL (ETS contains TS), rows sum to 1, JSON round trip', () => {
    const rng = new Rng(9);
    const K = 10;
    const Z = randomLogits(5000, K, 4, rng);
    // labels from a mixture the temperature alone cannot express
    const labels = Z.map((z) => {
      const p = softmax(z, 2);
      return sample(
        p.map((v) => 0.7 * v + 0.3 / K),
        rng,
      );
    });
    const flat = Z.flat();
    const ets = fitMixNMatch(flat, labels, K, { isotonic: false });
    const ts = applyTemperature(flat, K, ets.T);
    expect(meanNll(ets.apply(flat), labels, K)).toBeLessThanOrEqual(meanNll(ts, labels, K) + 1e-6);
    expect(ets.weights[2]).toBeGreaterThan(0.05);

    const cal = fitMixNMatch(flat, labels, K);
    const out = cal.apply(flat);
    let worstSum = 0;
    for (let i = 0; i < 5000; i++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += out[i * K + k];
      worstSum = Math.max(worstSum, Math.abs(s - 1));
    }
    expect(worstSum).toBeLessThan(1e-5);
    const back = MixNMatchCalibrator.fromJSON(JSON.parse(JSON.stringify(cal)));
    expect(Array.from(back.apply(flat.slice(0, 50 * K)))).toEqual(Array.from(out.subarray(0, 50 * K)));
    expect(() => MixNMatchCalibrator.fromJSON({ kind: 'nope' } as never)).toThrow(/mix-n-match/);
  });
});

describe('CCAT targets', () => {
  it('λ follows (1 − min(1, δ/ε))^ρ', () => {
    expect(ccatLambda(0, 0.03)).toBe(1);
    expect(ccatLambda(0.015, 0.03)).toBeCloseTo(0.5 ** 10, 15);
    expect(ccatLambda(0.01, 0.04, 2)).toBeCloseTo(0.75 ** 2, 15);
    expect(ccatLambda(0.03, 0.03)).toBe(0);
    expect(ccatLambda(0.5, 0.03)).toBe(0);
    // decays: non-increasing in δ
    let prev = 2;
    for (let d = 0; d <= 0.04; d += 0.001) {
      const l = ccatLambda(d, 0.03);
      expect(l).toBeLessThanOrEqual(prev);
      prev = l;
    }
  });
  it('targets are λ one-hot + (1 − λ) uniform', () => {
    const t = ccatTargets([2, 0], [1, 0.2], 4);
    expect(Array.from(t)).toEqual([0, 0, 1, 0, 0.2 + 0.8 / 4, 0.2, 0.2, 0.2].map(Math.fround));
    expect(() => ccatTargets([5], [1], 4)).toThrow(/outside/);
  });
});
