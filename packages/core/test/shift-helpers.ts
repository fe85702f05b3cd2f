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
