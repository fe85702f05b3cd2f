/**
 * Small image operations the corruptions are built from: boundary rules, separable Gaussian filtering,
 * 2-D correlation, bilinear sampling, the centre-crop zoom, the motion-blur streak, the diamond-square
 * plasma and a Poisson sampler. Images are HWC Float64Arrays in [0, 1]; a "plane" is one H×W channel.
 * Pure array maths (no tfjs, no I/O).
 */
import type { Rng } from '../util/rng.ts';

/**
 * How an index outside [0, n) is mapped back in:
 * - 'nearest'   … a a | a b c d | d d …   (clamp; scikit-image's default, ImageMagick's 'edge')
 * - 'reflect'   … b a | a b c d | d c …   (half-sample symmetric; SciPy's 'reflect')
 * - 'reflect101'… c b | a b c d | c b …   (whole-sample symmetric; OpenCV's default border, SciPy's 'mirror')
 */
export type Boundary = 'nearest' | 'reflect' | 'reflect101';

export function boundIndex(i: number, n: number, mode: Boundary): number {
  if (i >= 0 && i < n) return i;
  if (n === 1) return 0;
  if (mode === 'nearest') return i < 0 ? 0 : n - 1;
  if (mode === 'reflect') {
    const p = 2 * n;
    let r = ((i % p) + p) % p;
    if (r >= n) r = p - 1 - r;
    return r;
  }
  const p = 2 * n - 2;
  let r = ((i % p) + p) % p;
  if (r >= n) r = p - r;
  return r;
}

/** Channel c of an HWC image as an H×W plane. */
export function getPlane(img: Float64Array, h: number, w: number, c: number, ch: number): Float64Array {
  const out = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) out[p] = img[p * c + ch];
  return out;
}

export function setPlane(img: Float64Array, plane: Float64Array, h: number, w: number, c: number, ch: number): void {
  for (let p = 0; p < h * w; p++) img[p * c + ch] = plane[p];
}

/** Applies f to every channel plane of an HWC image and returns the new image. */
export function mapPlanes(
  img: Float64Array,
  h: number,
  w: number,
  c: number,
  f: (plane: Float64Array) => Float64Array,
): Float64Array {
  const out = new Float64Array(img.length);
  for (let ch = 0; ch < c; ch++) setPlane(out, f(getPlane(img, h, w, c, ch)), h, w, c, ch);
  return out;
}

/** 1-D Gaussian kernel g_j ∝ exp(−j²/(2σ²)), j = −r..r with r = ⌊truncate·σ + ½⌋ (SciPy's rule), summing to 1. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  const r = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let s = 0;
  for (let j = -r; j <= r; j++) {
    k[j + r] = Math.exp((-0.5 * j * j) / (sigma * sigma));
    s += k[j + r];
  }
  for (let j = 0; j < k.length; j++) k[j] /= s;
  return k;
}

/** Separable Gaussian filter of a plane (σ in pixels; σ ≤ 0 returns a copy). */
export function gaussianFilter(
  plane: Float64Array,
  h: number,
  w: number,
  sigma: number,
  mode: Boundary = 'nearest',
  truncate = 4,
): Float64Array {
  if (!(sigma > 0)) return Float64Array.from(plane);
  const k = gaussianKernel1d(sigma, truncate);
  const r = (k.length - 1) / 2;
  const tmp = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) s += k[j + r] * plane[y * w + boundIndex(x + j, w, mode)];
      tmp[y * w + x] = s;
    }
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let j = -r; j <= r; j++) s += k[j + r] * tmp[boundIndex(y + j, h, mode) * w + x];
      out[y * w + x] = s;
    }
  return out;
}

/** out(y, x) = Σ_{i,j} K(i, j) · plane(y + i − ry, x + j − rx): correlation with an odd kh×kw kernel, centred. */
export function correlate2d(
  plane: Float64Array,
  h: number,
  w: number,
  kernel: Float64Array,
  kh: number,
  kw: number,
  mode: Boundary,
): Float64Array {
  const ry = (kh - 1) / 2;
  const rx = (kw - 1) / 2;
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = 0; i < kh; i++) {
        const yy = boundIndex(y + i - ry, h, mode) * w;
        for (let j = 0; j < kw; j++) {
          const kv = kernel[i * kw + j];
          if (kv !== 0) s += kv * plane[yy + boundIndex(x + j - rx, w, mode)];
        }
      }
      out[y * w + x] = s;
    }
  return out;
}

/** Bilinear sample of a plane at real coordinates (y, x), neighbours mapped in by `mode`. */
export function bilinear(plane: Float64Array, h: number, w: number, y: number, x: number, mode: Boundary): number {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const ya = boundIndex(y0, h, mode) * w;
  const yb = boundIndex(y0 + 1, h, mode) * w;
  const xa = boundIndex(x0, w, mode);
  const xb = boundIndex(x0 + 1, w, mode);
  return (
    (1 - fy) * ((1 - fx) * plane[ya + xa] + fx * plane[ya + xb]) +
    fy * ((1 - fx) * plane[yb + xa] + fx * plane[yb + xb])
  );
}

/**
 * Centre zoom by factor z ≥ 1 keeping the size: crop the central ⌈n/z⌉ pixels on each axis, resize them
 * to round(⌈n/z⌉·z) with corner-aligned linear interpolation, and cut the central n back out. Per axis the
 * output pixel i reads input coordinate top + (i + trim)·(crop − 1)/(zoomed − 1).
 */
export function clippedZoom(plane: Float64Array, h: number, w: number, z: number): Float64Array {
  const axis = (n: number) => {
    const crop = Math.ceil(n / z);
    const top = Math.floor((n - crop) / 2);
    const zoomed = Math.round(crop * z);
    const trim = Math.floor((zoomed - n) / 2);
    const coord = new Float64Array(n);
    for (let i = 0; i < n; i++) coord[i] = zoomed > 1 ? top + ((i + trim) * (crop - 1)) / (zoomed - 1) : top;
    return coord;
  };
  const cy = axis(h);
  const cx = axis(w);
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) out[y * w + x] = bilinear(plane, h, w, cy[y], cx[x], 'nearest');
  return out;
}

/**
 * Motion blur as a one-sided streak: out(p) = Σ_{i=0}^{L−1} g_i · in(p + round(i·(cos θ, sin θ))) with
 * L = 2⌈radius⌉ + 1 taps, g_i ∝ exp(−i²/(2σ²)) summing to 1, and edge pixels repeated outside the image.
 * This is the kernel ImageMagick's MotionBlurImage(radius, sigma, angle) uses, which generated CIFAR-10-C.
 * θ in degrees, x to the right and y downwards.
 */
export function motionBlur(
  plane: Float64Array,
  h: number,
  w: number,
  radius: number,
  sigma: number,
  angleDeg: number,
): Float64Array {
  const taps = 2 * Math.ceil(radius) + 1;
  const g = new Float64Array(taps);
  let s = 0;
  for (let i = 0; i < taps; i++) {
    g[i] = Math.exp(-(i * i) / (2 * sigma * sigma));
    s += g[i];
  }
  const th = (angleDeg * Math.PI) / 180;
  const ox = new Int32Array(taps);
  const oy = new Int32Array(taps);
  for (let i = 0; i < taps; i++) {
    g[i] /= s;
    ox[i] = Math.round(i * Math.cos(th));
    oy[i] = Math.round(i * Math.sin(th));
  }
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let i = 0; i < taps; i++)
        v += g[i] * plane[boundIndex(y + oy[i], h, 'nearest') * w + boundIndex(x + ox[i], w, 'nearest')];
      out[y * w + x] = v;
    }
  return out;
}

/**
 * Diamond-square plasma on a toroidal size×size grid (size a power of two), rescaled to [0, 1]. Starting from
 * 0 at the origin with perturbation scale ω = 100, each level sets square centres and then diamond centres
 * to a quarter of the sum of their four neighbours plus ω·U(−ω, ω), and divides ω by `decay`.
 */
export function plasmaFractal(size: number, decay: number, rng: Rng): Float64Array {
  const a = new Float64Array(size * size);
  const at = (y: number, x: number) => ((y + size) % size) * size + ((x + size) % size);
  let step = size;
  let wib = 100;
  const jitter = () => wib * (2 * rng.next() - 1) * wib;
  while (step >= 2) {
    const half = step / 2;
    for (let y = 0; y < size; y += step)
      for (let x = 0; x < size; x += step) {
        const sum = a[at(y, x)] + a[at(y + step, x)] + a[at(y, x + step)] + a[at(y + step, x + step)];
        a[at(y + half, x + half)] = sum / 4 + jitter();
      }
    for (let y = 0; y < size; y += step)
      for (let x = 0; x < size; x += step) {
        // diamond centre on the top edge of the square at (y, x): neighbours left/right corners and the square centres above/below
        const top = a[at(y, x)] + a[at(y, x + step)] + a[at(y - half, x + half)] + a[at(y + half, x + half)];
        a[at(y, x + half)] = top / 4 + jitter();
        // diamond centre on the left edge: corners above/below and square centres left/right
        const left = a[at(y, x)] + a[at(y + step, x)] + a[at(y + half, x - half)] + a[at(y + half, x + half)];
        a[at(y + half, x)] = left / 4 + jitter();
      }
    step = half;
    wib /= decay;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let i = 0; i < a.length; i++) a[i] = hi > lo ? (a[i] - lo) / (hi - lo) : 0;
  return a;
}

const LOG_FACT_SMALL = (() => {
  const t = new Float64Array(32);
  for (let k = 1; k < 32; k++) t[k] = t[k - 1] + Math.log(k);
  return t;
})();

/** ln k! (table below 32, Stirling series with three correction terms above; error < 1e-12 there). */
export function logFactorial(k: number): number {
  if (k < 32) return LOG_FACT_SMALL[k];
  const n = k + 1;
  return (
    (n - 0.5) * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * n) - 1 / (360 * n ** 3) + 1 / (1260 * n ** 5)
  );
}

/**
 * Poisson(λ) draw: multiplication of uniforms for λ < 10, Hörmann's transformed rejection with squeeze
 * (PTRS, 1993) otherwise. Exact in distribution in both branches.
 */
export function poisson(lambda: number, rng: Rng): number {
  if (!(lambda > 0)) return 0;
  if (lambda < 10) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = rng.next();
    while (p > limit) {
      k++;
      p *= rng.next();
    }
    return k;
  }
  const slam = Math.sqrt(lambda);
  const loglam = Math.log(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k))
      return k;
  }
}

/** ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B per pixel (the plane itself for one channel). */
export function luma(img: Float64Array, h: number, w: number, c: number): Float64Array {
  if (c === 1) return Float64Array.from(img);
  const out = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) out[p] = 0.299 * img[p * c] + 0.587 * img[p * c + 1] + 0.114 * img[p * c + 2];
  return out;
}
