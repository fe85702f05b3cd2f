/**
 * The CIFAR-10-C corruption operations (Hendrycks & Dietterich 2019), one function per id, each taking one
 * HWC image in [0, 1] and returning a new one (clipped to [0, 1] by the caller). Constants come from
 * cifar-params.ts; `s` is the size scale min(h, w)/32 applied to pixel-measured constants (rule stated there).
 * Outputs stay in floating point: the published files round every image to 8 bits, which these functions do
 * not (except jpeg_compression, whose decoder works on the 8-bit grid by nature).
 * Pure array maths (no tfjs, no I/O).
 */
import type { Rng } from '../util/rng.ts';
import * as P from './cifar-params.ts';
import {
  bilinear,
  clippedZoom,
  correlate2d,
  gaussianFilter,
  getPlane,
  luma,
  mapPlanes,
  motionBlur,
  plasmaFractal,
  poisson,
  setPlane,
} from './image-ops.ts';
import { jpegRoundTrip } from './jpeg.ts';
import { spatterImage } from './spatter.ts';

export interface ImageArgs {
  img: Float64Array;
  h: number;
  w: number;
  c: number;
  /** 0-based severity index (severity − 1). */
  k: number;
  rng: Rng;
  /** Size scale min(h, w) / 32. */
  s: number;
}
export type CorruptionFn = (a: ImageArgs) => Float64Array;

/** x' = x + N(0, c²) per entry. */
const gaussianNoise: CorruptionFn = ({ img, k, rng }) => img.map((v) => v + P.GAUSSIAN_NOISE[k] * rng.normal());

/** x' = Poisson(c·x)/c per entry. */
const shotNoise: CorruptionFn = ({ img, k, rng }) => {
  const c = P.SHOT_NOISE[k];
  return img.map((v) => poisson(Math.max(0, v) * c, rng) / c);
};

/** Each entry independently, with probability c, becomes 0 or 1 (equally likely). */
const impulseNoise: CorruptionFn = ({ img, k, rng }) => {
  const c = P.IMPULSE_NOISE[k];
  return img.map((v) => (rng.next() < c ? (rng.next() < 0.5 ? 1 : 0) : v));
};

/** x' = x + x·N(0, c²) per entry. */
const speckleNoise: CorruptionFn = ({ img, k, rng }) => img.map((v) => v + v * P.SPECKLE_NOISE[k] * rng.normal());

/** Gaussian filter with σ = c·s per channel, edges repeated, truncated at 4σ. */
const gaussianBlur: CorruptionFn = ({ img, h, w, c, k, s }) =>
  mapPlanes(img, h, w, c, (p) => gaussianFilter(p, h, w, P.GAUSSIAN_BLUR[k] * s));

/**
 * Blur (σ), then for each iteration walk the pixels from the bottom-right (rows h − d … d + 1, columns
 * w − d … d + 1) swapping each with the pixel offset by (dy, dx) ~ U{−d, …, d − 1}² (the published, asymmetric
 * range), then blur again.
 */
const glassBlur: CorruptionFn = ({ img, h, w, c, k, rng, s }) => {
  const [sigma0, d0, iters] = P.GLASS_BLUR[k];
  const sigma = sigma0 * s;
  const d = Math.max(1, Math.round(d0 * s));
  const x = mapPlanes(img, h, w, c, (p) => gaussianFilter(p, h, w, sigma));
  for (let it = 0; it < iters; it++)
    for (let yy = h - d; yy > d; yy--)
      for (let xx = w - d; xx > d; xx--) {
        const dx = -d + rng.int(2 * d);
        const dy = -d + rng.int(2 * d);
        const a = (yy * w + xx) * c;
        const b = ((yy + dy) * w + xx + dx) * c;
        for (let ch = 0; ch < c; ch++) {
          const t = x[a + ch];
          x[a + ch] = x[b + ch];
          x[b + ch] = t;
        }
      }
  return mapPlanes(x, h, w, c, (p) => gaussianFilter(p, h, w, sigma));
};

/**
 * Correlation with an anti-aliased disk: the indicator of x² + y² ≤ r² (normalised) smoothed by a Gaussian of σ = alias
 * (3×3 taps, 5×5 for r > 8, as published), both scaled by s; image borders reflect without repeating the edge.
 */
export function defocusKernel(radius: number, alias: number): { kernel: Float64Array; size: number } {
  const ks = radius > 8 ? 5 : 3;
  const half = Math.ceil(radius) + (ks - 1) / 2;
  const size = 2 * half + 1;
  const disk = new Float64Array(size * size);
  let sum = 0;
  for (let y = -half; y <= half; y++)
    for (let x = -half; x <= half; x++)
      if (x * x + y * y <= radius * radius) {
        disk[(y + half) * size + x + half] = 1;
        sum++;
      }
  for (let i = 0; i < disk.length; i++) disk[i] /= sum;
  const g = new Float64Array(ks);
  let gs = 0;
  const r = (ks - 1) / 2;
  for (let i = -r; i <= r; i++) {
    g[i + r] = Math.exp(-(i * i) / (2 * alias * alias));
    gs += g[i + r];
  }
  const g2 = new Float64Array(ks * ks);
  for (let i = 0; i < ks; i++) for (let j = 0; j < ks; j++) g2[i * ks + j] = (g[i] * g[j]) / (gs * gs);
  // the disk sits inside a zero margin as wide as the smoothing kernel, so no border rule is involved here
  const kernel = correlate2d(disk, size, size, g2, ks, ks, 'reflect101');
  return { kernel, size };
}
const defocusBlur: CorruptionFn = ({ img, h, w, c, k, s }) => {
  const [r, a] = P.DEFOCUS_BLUR[k];
  const { kernel, size } = defocusKernel(r * s, a * s);
  return mapPlanes(img, h, w, c, (p) => correlate2d(p, h, w, kernel, size, size, 'reflect101'));
};

/** One-sided Gaussian-weighted streak (see `motionBlur`), radius and σ scaled by s, angle ~ U(−45°, 45°). */
const motionBlurC: CorruptionFn = ({ img, h, w, c, k, rng, s }) => {
  const [r, sg] = P.MOTION_BLUR[k];
  const angle = -45 + 90 * rng.next();
  return mapPlanes(img, h, w, c, (p) => motionBlur(p, h, w, r * s, sg * s, angle));
};

/** Mean of the image and its centre zooms by 1, 1.01, … (n factors): x' = (x + Σ_j zoom_j(x)) / (n + 1). */
const zoomBlur: CorruptionFn = ({ img, h, w, c, k }) => {
  const n = P.ZOOM_BLUR_COUNTS[k];
  return mapPlanes(img, h, w, c, (p) => {
    const acc = Float64Array.from(p);
    for (let j = 0; j < n; j++) {
      const z = clippedZoom(p, h, w, 1 + j * 0.01);
      for (let i = 0; i < acc.length; i++) acc[i] += z[i];
    }
    return acc.map((v) => v / (n + 1));
  });
};

/**
 * Snow: a layer L ~ N(μ, σ²) per pixel, centre-zoomed, zeroed below a threshold, clipped to [0, 1] and motion-blurred
 * along an angle ~ U(−135°, −45°); the image is whitened x ← b·x + (1 − b)·max(x, 1.5·luma + 0.5) and
 * x' = x + L + rot180(L).
 */
const snow: CorruptionFn = ({ img, h, w, c, k, rng, s }) => {
  const [mu, sd, zoom, thr, mr, ms, blend] = P.SNOW[k];
  let layer: Float64Array = new Float64Array(h * w);
  for (let i = 0; i < layer.length; i++) layer[i] = mu + sd * rng.normal();
  layer = clippedZoom(layer, h, w, zoom);
  for (let i = 0; i < layer.length; i++) layer[i] = layer[i] < thr ? 0 : Math.min(1, layer[i]);
  layer = motionBlur(layer, h, w, mr * s, ms * s, -135 + 90 * rng.next());
  const gray = luma(img, h, w, c);
  const out = new Float64Array(img.length);
  for (let p = 0; p < h * w; p++) {
    const add = layer[p] + layer[h * w - 1 - p];
    const lift = gray[p] * 1.5 + 0.5;
    for (let ch = 0; ch < c; ch++) {
      const v = img[p * c + ch];
      out[p * c + ch] = blend * v + (1 - blend) * Math.max(v, lift) + add;
    }
  }
  return out;
};

/** Fog: x' = (x + a·plasma) · max(x) / (max(x) + a), plasma from `plasmaFractal` on the next power-of-two grid. */
const fog: CorruptionFn = ({ img, h, w, c, k, rng }) => {
  const [a, decay] = P.FOG[k];
  let size = 1;
  while (size < Math.max(h, w)) size *= 2;
  const plasma = plasmaFractal(Math.max(2, size), decay, rng);
  let mx = 0;
  for (const v of img) mx = Math.max(mx, v);
  const out = new Float64Array(img.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const f = a * plasma[y * Math.max(2, size) + x];
      for (let ch = 0; ch < c; ch++) {
        const i = (y * w + x) * c + ch;
        out[i] = mx + a > 0 ? ((img[i] + f) * mx) / (mx + a) : 0;
      }
    }
  return out;
};

/**
 * HSV value V = max channel raised by c and clipped to 1 with hue and saturation kept. Since every channel is
 * V·(1 − S·u_k(H)), that is exactly a rescaling of all channels by V'/V (and a grey of V' where V = 0).
 */
const brightness: CorruptionFn = ({ img, h, w, c, k }) => {
  const add = P.BRIGHTNESS[k];
  const out = new Float64Array(img.length);
  for (let p = 0; p < h * w; p++) {
    let v = 0;
    for (let ch = 0; ch < c; ch++) v = Math.max(v, img[p * c + ch]);
    const nv = Math.min(1, v + add);
    for (let ch = 0; ch < c; ch++) out[p * c + ch] = v > 0 ? (img[p * c + ch] * nv) / v : nv;
  }
  return out;
};

/** x' = (x − m)·c + m with m the per-channel mean of the image. */
const contrast: CorruptionFn = ({ img, h, w, c, k }) => {
  const f = P.CONTRAST[k];
  const out = new Float64Array(img.length);
  for (let ch = 0; ch < c; ch++) {
    let m = 0;
    for (let p = 0; p < h * w; p++) m += img[p * c + ch];
    m /= h * w;
    for (let p = 0; p < h * w; p++) out[p * c + ch] = (img[p * c + ch] - m) * f + m;
  }
  return out;
};

/**
 * HSV saturation S' = clip(a·S + b, 0, 1) with hue and value kept (RGB only). With V the max and m the min
 * channel, each channel is V·(1 − S·u_k), u_k = (V − x_k)/(V − m) fixed by the hue, so x'_k = V·(1 − S'·u_k).
 * Grey pixels have hue 0 (red) by the usual convention: u = (0, 1, 1).
 */
const saturate: CorruptionFn = ({ img, h, w, k }) => {
  const [a, b] = P.SATURATE[k];
  const out = new Float64Array(img.length);
  for (let p = 0; p < h * w; p++) {
    const r = img[p * 3];
    const g = img[p * 3 + 1];
    const bl = img[p * 3 + 2];
    const v = Math.max(r, g, bl);
    const m = Math.min(r, g, bl);
    const sat = v > 0 ? (v - m) / v : 0;
    const ns = Math.min(1, Math.max(0, a * sat + b));
    const u = v > m ? [(v - r) / (v - m), (v - g) / (v - m), (v - bl) / (v - m)] : [0, 1, 1];
    for (let ch = 0; ch < 3; ch++) out[p * 3 + ch] = v * (1 - ns * u[ch]);
  }
  return out;
};

const jpegCompression: CorruptionFn = ({ img, h, w, c, k }) => jpegRoundTrip(img, h, w, c as 1 | 3, P.JPEG_QUALITY[k]);

/**
 * Box ("area") resampling in PIL's convention between sizes n and m: output pixel i has centre (i + ½)·n/m in
 * input units and averages, with equal weights, the input pixels j whose (j + ½ − centre)/max(1, n/m) lies in (−½, ½].
 */
function boxResizeAxis(n: number, m: number): Array<number[]> {
  const scale = n / m;
  const fs = Math.max(1, scale);
  const taps: Array<number[]> = [];
  for (let i = 0; i < m; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - 0.5 * fs + 0.5));
    const hi = Math.min(n, Math.floor(centre + 0.5 * fs + 0.5));
    const js: number[] = [];
    for (let j = lo; j < hi; j++) {
      const t = (j + 0.5 - centre) / fs;
      if (t > -0.5 && t <= 0.5) js.push(j);
    }
    if (js.length === 0) js.push(Math.min(n - 1, Math.max(0, Math.floor(centre))));
    taps.push(js);
  }
  return taps;
}
function boxResize(plane: Float64Array, h: number, w: number, nh: number, nw: number): Float64Array {
  const ty = boxResizeAxis(h, nh);
  const tx = boxResizeAxis(w, nw);
  const tmp = new Float64Array(h * nw);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < nw; x++) tmp[y * nw + x] = tx[x].reduce((acc, j) => acc + plane[y * w + j], 0) / tx[x].length;
  const out = new Float64Array(nh * nw);
  for (let y = 0; y < nh; y++)
    for (let x = 0; x < nw; x++) out[y * nw + x] = ty[y].reduce((acc, j) => acc + tmp[j * nw + x], 0) / ty[y].length;
  return out;
}
/** Box-resize down to ⌊c·h⌋ × ⌊c·w⌋ and back up to h × w. */
const pixelate: CorruptionFn = ({ img, h, w, c, k }) => {
  const f = P.PIXELATE[k];
  const nh = Math.max(1, Math.floor(h * f));
  const nw = Math.max(1, Math.floor(w * f));
  return mapPlanes(img, h, w, c, (p) => boxResize(boxResize(p, h, w, nh, nw), nh, nw, h, w));
};

/**
 * Elastic transform: a random affine warp (three control points around the centre at ±⌊S/3⌋, each coordinate
 * jittered by U(−j, j); bilinear, borders reflected without repeating the edge) followed by a displacement field
 * (dx, dy) = α · G_σ ∗ U(−1, 1) (Gaussian truncated at 3σ, half-sample reflection), sampled bilinearly with
 * half-sample reflection. α, σ, j are the published fractions times S = min(h, w).
 */
const elasticTransform: CorruptionFn = ({ img, h, w, c, k, rng }) => {
  const S = Math.min(h, w);
  const [alpha, sigma, jitter] = P.ELASTIC[k].map((v) => v * S);
  const cx = Math.floor(w / 2);
  const cy = Math.floor(h / 2);
  const q = Math.floor(S / 3);
  const src = [
    [cx + q, cy + q],
    [cx + q, cy - q],
    [cx - q, cy - q],
  ];
  const dst = src.map(([x, y]) => [x + jitter * (2 * rng.next() - 1), y + jitter * (2 * rng.next() - 1)]);
  const M = affineFrom3(src, dst);
  // inverse map: source point of each destination pixel
  const det = M[0] * M[4] - M[1] * M[3];
  const inv = [M[4] / det, -M[1] / det, -M[3] / det, M[0] / det];
  const warped = new Float64Array(img.length);
  for (let ch = 0; ch < c; ch++) {
    const p = getPlane(img, h, w, c, ch);
    const o = new Float64Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const ux = x - M[2];
        const uy = y - M[5];
        o[y * w + x] = bilinear(p, h, w, inv[2] * ux + inv[3] * uy, inv[0] * ux + inv[1] * uy, 'reflect101');
      }
    setPlane(warped, o, h, w, c, ch);
  }
  const field = () => {
    const u = new Float64Array(h * w);
    for (let i = 0; i < u.length; i++) u[i] = 2 * rng.next() - 1;
    return gaussianFilter(u, h, w, sigma, 'reflect', 3).map((v) => v * alpha);
  };
  const dx = field();
  const dy = field();
  return mapPlanes(warped, h, w, c, (p) => {
    const o = new Float64Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) o[y * w + x] = bilinear(p, h, w, y + dy[y * w + x], x + dx[y * w + x], 'reflect');
    return o;
  });
};

/** The 2×3 affine matrix [a b t; d e u] (row-major, 6 numbers) taking three source points onto three destinations. */
export function affineFrom3(src: number[][], dst: number[][]): number[] {
  const [[x0, y0], [x1, y1], [x2, y2]] = src;
  const D = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  const solve = (v0: number, v1: number, v2: number) => {
    const a = (v0 * (y1 - y2) - y0 * (v1 - v2) + (v1 * y2 - v2 * y1)) / D;
    const b = (x0 * (v1 - v2) - v0 * (x1 - x2) + (x1 * v2 - x2 * v1)) / D;
    const t = (x0 * (y1 * v2 - y2 * v1) - y0 * (x1 * v2 - x2 * v1) + v0 * (x1 * y2 - x2 * y1)) / D;
    return [a, b, t];
  };
  return [...solve(dst[0][0], dst[1][0], dst[2][0]), ...solve(dst[0][1], dst[1][1], dst[2][1])];
}

const spatter: CorruptionFn = ({ img, h, w, c, k, rng, s }) => spatterImage(img, h, w, c, P.SPATTER[k], rng, s);

/** Implemented operations by id (frost is absent: see corrupt.ts). */
export const OPERATIONS: Record<string, CorruptionFn> = {
  gaussian_noise: gaussianNoise,
  shot_noise: shotNoise,
  impulse_noise: impulseNoise,
  speckle_noise: speckleNoise,
  gaussian_blur: gaussianBlur,
  defocus_blur: defocusBlur,
  glass_blur: glassBlur,
  motion_blur: motionBlurC,
  zoom_blur: zoomBlur,
  snow,
  fog,
  brightness,
  contrast,
  elastic_transform: elasticTransform,
  pixelate,
  jpeg_compression: jpegCompression,
  spatter,
  saturate,
};
