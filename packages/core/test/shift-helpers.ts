import { shiftSubset } from '../src/experiment/evaluate-extra.ts';
import { type Model, predictProbabilities } from '../src/models/index.ts';
import { type CorruptionId, corrupt } from '../src/shift/index.ts';
import { Rng } from '../src/util/rng.ts';

/** Synthetic natural-ish images: smooth random waves plus a few discs of random colour at random places. */
export function syntheticImages(n: number, h: number, w: number, c: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * h * w * c);
  for (let i = 0; i < n; i++) {
    const waves = Array.from({ length: 5 }, () => [rng.next() * 0.6, rng.next() * 0.6, rng.next() * 6, rng.next()]);
    const discs = Array.from({ length: 4 }, () => [
      rng.next() * h,
      rng.next() * w,
      2 + rng.next() * (Math.min(h, w) / 4),
      ...Array.from({ length: c }, () => rng.next()),
    ]);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          let v = 0.45 + 0.1 * ch;
          for (const [a, b, p, amp] of waves) v += 0.07 * amp * Math.sin(a * x + b * y + p + ch);
          for (const [dy, dx, r, ...col] of discs)
            if ((y - dy) ** 2 + (x - dx) ** 2 <= r * r) v = 0.3 * v + 0.7 * col[ch];
          out[((i * h + y) * w + x) * c + ch] = Math.min(1, Math.max(0, v));
        }
  }
  return out;
}

export function meanSquaredDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

/**
 * Accuracy of `model` on the corrupted shift subset of a split, recomputed by hand: the subset's images gathered in
 * order, corrupted with `corrupt`, classified, and the arg-max compared with the labels.
 */
export function handShiftAccuracy(
  model: Model,
  test: { x: Float32Array; y: ArrayLike<number>; n: number },
  shape: [number, number, number],
  limit: number,
  corruption: CorruptionId,
  severity: number,
  seed: number,
): number {
  const keep = shiftSubset(test.n, limit);
  const per = shape[0] * shape[1] * shape[2];
  const x = new Float32Array(keep.length * per);
  keep.forEach((k, i) => {
    x.set(test.x.subarray(k * per, (k + 1) * per), i * per);
  });
  const Z = model.config.classes;
  const p = predictProbabilities(model, corrupt(x, [keep.length, ...shape], corruption, severity, seed), keep.length);
  let right = 0;
  keep.forEach((k, i) => {
    const row = Array.from(p.subarray(i * Z, (i + 1) * Z));
    if (row.indexOf(Math.max(...row)) === test.y[k]) right++;
  });
  return right / keep.length;
}
