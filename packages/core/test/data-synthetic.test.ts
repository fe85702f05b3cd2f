import { describe, expect, it } from 'vitest';
import { loadExperimentData, type SyntheticImages, syntheticImages } from '../src/data/index.ts';

/** Nearest-class-mean accuracy against clean labels: class means from `train`, evaluated on `test`. */
function nearestMeanAccuracy(train: SyntheticImages, test: SyntheticImages, K: number): number {
  const D = train.shape[0] * train.shape[1] * train.shape[2];
  const mean = new Float64Array(K * D);
  const count = new Float64Array(K);
  for (let i = 0; i < train.n; i++) {
    const y = train.cleanLabels[i];
    count[y]++;
    for (let p = 0; p < D; p++) mean[y * D + p] += train.pixels[i * D + p];
  }
  for (let k = 0; k < K; k++) for (let p = 0; p < D; p++) mean[k * D + p] /= count[k];
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let k = 0; k < K; k++) {
      let d2 = 0;
      for (let p = 0; p < D; p++) d2 += (test.pixels[i * D + p] - mean[k * D + p]) ** 2;
      if (d2 < bestD) {
        bestD = d2;
        best = k;
      }
    }
    if (best === test.cleanLabels[i]) correct++;
  }
  return correct / test.n;
}

describe('synthetic images', () => {
  const opts = { classes: 10, shape: [28, 28, 1] as [number, number, number], labelNoise: 0.1, seed: 42 };

  it('is deterministic for a seed and different for another', () => {
    const a = syntheticImages({ ...opts, n: 200 });
    const b = syntheticImages({ ...opts, n: 200 });
    const c = syntheticImages({ ...opts, n: 200, seed: 43 });
    expect(Array.from(a.pixels)).toEqual(Array.from(b.pixels));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    let diff = 0;
    for (let i = 0; i < a.pixels.length; i++) if (a.pixels[i] !== c.pixels[i]) diff++;
    expect(diff).toBeGreaterThan(a.pixels.length * 0.9);
  });

  it('any shape and class count; pixels in [0, 1]; the first m examples do not depend on n; streams differ', () => {
    const small = syntheticImages({ classes: 3, shape: [5, 7, 2], labelNoise: 0, n: 40, seed: 1 });
    const big = syntheticImages({ classes: 3, shape: [5, 7, 2], labelNoise: 0, n: 90, seed: 1 });
    expect(small.pixels.length).toBe(40 * 70);
    expect(small.shape).toEqual([5, 7, 2]);
    for (const v of big.pixels) if (!(v >= 0 && v <= 1)) throw new Error(`pixel ${v}`);
    expect(Array.from(big.pixels.subarray(0, 40 * 70))).toEqual(Array.from(small.pixels));
    expect(Array.from(big.labels.subarray(0, 40))).toEqual(Array.from(small.labels));
    const other = syntheticImages({ classes: 3, shape: [5, 7, 2], labelNoise: 0, n: 40, seed: 1, stream: 1 });
    expect(Array.from(other.pixels)).not.toEqual(Array.from(small.pixels));
    const tiny = syntheticImages({ classes: 2, shape: [1, 1, 1], labelNoise: 0, n: 10, seed: 3 });
    expect(tiny.pixels.length).toBe(10);
  });

  it('classes are balanced and the label-noise share is labelNoise·(1 − 1/K) within binomial tolerance', () => {
    const n = 5000;
    const K = 10;
    const noise = 0.2;
    // the label process does not depend on the image size, so a small image keeps this fast
    const s = syntheticImages({ ...opts, shape: [4, 4, 1], labelNoise: noise, n });
    const clean = new Array(K).fill(0);
    const seen = new Array(K).fill(0);
    let changed = 0;
    for (let i = 0; i < n; i++) {
      clean[s.cleanLabels[i]]++;
      seen[s.labels[i]]++;
      if (s.labels[i] !== s.cleanLabels[i]) changed++;
    }
    for (const c of clean) expect(Math.abs(c - n / K)).toBeLessThanOrEqual(1);
    // observed labels: a mixture of balanced clean labels and uniform draws, still balanced; 4 sd of a binomial(n, 1/K)
    const sd = Math.sqrt(n * (1 / K) * (1 - 1 / K));
    for (const c of seen) expect(Math.abs(c - n / K)).toBeLessThan(4 * sd);
    const p = noise * (1 - 1 / K);
    expect(Math.abs(changed / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    const none = syntheticImages({ ...opts, labelNoise: 0, n: 500 });
    expect(Array.from(none.labels)).toEqual(Array.from(none.cleanLabels));
    // label noise changes labels only, never images
    const noisy = syntheticImages({ ...opts, labelNoise: 0.5, n: 500 });
    expect(Array.from(noisy.pixels)).toEqual(Array.from(none.pixels));
  });

  it('is not trivially separable: nearest-class-mean accuracy is well above chance and well below 100 %', () => {
    const train = syntheticImages({ ...opts, n: 2000 });
    const test = syntheticImages({ ...opts, n: 600, stream: 1 });
    const acc = nearestMeanAccuracy(train, test, 10);
    expect(acc).toBeGreaterThan(0.45);
    expect(acc).toBeLessThan(0.92);
    const train3 = syntheticImages({ classes: 3, shape: [6, 6, 3], labelNoise: 0, n: 1500, seed: 5 });
    const test3 = syntheticImages({ classes: 3, shape: [6, 6, 3], labelNoise: 0, n: 600, seed: 5, stream: 1 });
    const acc3 = nearestMeanAccuracy(train3, test3, 3);
    expect(acc3).toBeGreaterThan(0.5);
    expect(acc3).toBeLessThan(0.95);
  });

  it('bad parameters are INVALID_INPUT', () => {
    expect(() => syntheticImages({ ...opts, classes: 1, n: 5 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => syntheticImages({ ...opts, labelNoise: 1.5, n: 5 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});

describe('loadExperimentData("synthetic")', () => {
  const spec = {
    name: 'synthetic' as const,
    validationSize: 100,
    trainLimit: 300,
    testLimit: 150,
    classes: 4,
    shape: [8, 8, 3] as [number, number, number],
    labelNoise: 0.1,
  };

  it('sizes, source, disjoint splits, determinism per seed', async () => {
    const a = await loadExperimentData(spec, 1);
    const b = await loadExperimentData(spec, 1);
    const c = await loadExperimentData(spec, 2);
    expect(a.source).toBe('synthetic');
    expect([a.train.n, a.validation.n, a.test.n]).toEqual([300, 100, 150]);
    expect(a.shape).toEqual([8, 8, 3]);
    expect(a.classes).toBe(4);
    expect(a.train.x.length).toBe(300 * 192);
    expect(a.checksum).toBe(b.checksum);
    expect(c.checksum).not.toBe(a.checksum);
    const va = new Set(a.validation.fileIndex);
    for (const v of a.train.fileIndex) expect(va.has(v)).toBe(false);
  });

  it('the test set does not change with the training-set size', async () => {
    const a = await loadExperimentData(spec, 1);
    const b = await loadExperimentData({ ...spec, trainLimit: 50, validationSize: 10 }, 1);
    expect(Array.from(b.test.x)).toEqual(Array.from(a.test.x));
    expect(Array.from(b.test.y)).toEqual(Array.from(a.test.y));
  });
});
