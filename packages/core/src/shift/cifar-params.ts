/**
 * Per-severity constants of the CIFAR-10-C corruptions (Hendrycks & Dietterich 2019), as published for the
 * 32×32 CIFAR version (their make_cifar_c.py). Index s − 1 holds severity s. Constants only: the operations
 * live in corruptions.ts.
 *
 * Scaling to other image sizes (S = min(h, w), s = S / 32): constants measured in pixels are multiplied by s —
 * blur σ (gaussian_blur, glass_blur, spatter), glass_blur's displacement (rounded, ≥ 1), defocus radius and its
 * anti-alias σ, motion-blur radius and σ (motion_blur, snow), elastic_transform's α, σ and affine jitter
 * (published as multiples of the image size, so they become multiples of S). Constants that are ratios or
 * intensities are size-free and kept: noise levels, zoom factors, pixelate's resize ratio, fog's decay (the
 * plasma grid grows to the next power of two ≥ max(h, w)), brightness/contrast/saturation, JPEG quality,
 * snow/spatter thresholds and blends.
 */

export const GAUSSIAN_NOISE = [0.04, 0.06, 0.08, 0.09, 0.1];
/** Poisson photon count: x' = Poisson(x·c)/c. */
export const SHOT_NOISE = [500, 250, 100, 75, 50];
/** Salt-and-pepper fraction of entries. */
export const IMPULSE_NOISE = [0.01, 0.02, 0.03, 0.05, 0.07];
export const SPECKLE_NOISE = [0.06, 0.1, 0.12, 0.16, 0.2];
export const GAUSSIAN_BLUR = [0.4, 0.6, 0.7, 0.8, 1];
/** [σ, max displacement, iterations] */
export const GLASS_BLUR: Array<[number, number, number]> = [
  [0.05, 1, 1],
  [0.25, 1, 1],
  [0.4, 1, 1],
  [0.25, 1, 2],
  [0.4, 1, 2],
];
/** [disk radius, anti-alias σ] */
export const DEFOCUS_BLUR: Array<[number, number]> = [
  [0.3, 0.4],
  [0.4, 0.5],
  [0.5, 0.6],
  [1, 0.2],
  [1.5, 0.1],
];
/** [radius, σ]; angle ~ U(−45°, 45°) */
export const MOTION_BLUR: Array<[number, number]> = [
  [6, 1],
  [6, 1.5],
  [6, 2],
  [8, 2],
  [9, 2.5],
];
/**
 * Zoom factors 1, 1.01, …: the published lists are numpy.arange(1, e, 0.01) for e = 1.06, 1.11, 1.16, 1.21, 1.26,
 * which in floating point yield 7, 12, 16, 21 and 26 factors (the first two include their end point).
 */
export const ZOOM_BLUR_COUNTS = [7, 12, 16, 21, 26];
/** [snow mean, snow sd, zoom, threshold, motion radius, motion σ, blend] */
export const SNOW: Array<[number, number, number, number, number, number, number]> = [
  [0.1, 0.2, 1, 0.6, 8, 3, 0.95],
  [0.1, 0.2, 1, 0.5, 10, 4, 0.9],
  [0.15, 0.3, 1.75, 0.55, 10, 4, 0.9],
  [0.25, 0.3, 2.25, 0.6, 12, 6, 0.85],
  [0.3, 0.3, 1.25, 0.65, 14, 12, 0.8],
];
/** [amount, plasma decay] */
export const FOG: Array<[number, number]> = [
  [0.2, 3],
  [0.5, 3],
  [0.75, 2.5],
  [1, 2],
  [1.5, 1.75],
];
/** [image weight, frost weight] — listed for reference; frost itself is not produced (see corrupt.ts). */
export const FROST: Array<[number, number]> = [
  [1, 0.2],
  [1, 0.3],
  [0.9, 0.4],
  [0.85, 0.4],
  [0.75, 0.45],
];
/** Added to the HSV value channel. */
export const BRIGHTNESS = [0.05, 0.1, 0.15, 0.2, 0.3];
/** Contrast factor about the per-channel mean. */
export const CONTRAST = [0.75, 0.5, 0.4, 0.3, 0.15];
/** [scale, shift] of the HSV saturation channel. */
export const SATURATE: Array<[number, number]> = [
  [0.3, 0],
  [0.1, 0],
  [1.5, 0],
  [2, 0.1],
  [2.5, 0.2],
];
export const JPEG_QUALITY = [80, 65, 58, 50, 40];
/** Ratio of the intermediate size to the image size. */
export const PIXELATE = [0.95, 0.9, 0.85, 0.75, 0.65];
/** [α, σ, affine jitter] as fractions of the image size (published as IMSIZE·k with IMSIZE = 32). */
export const ELASTIC: Array<[number, number, number]> = [
  [0, 0, 0.08],
  [0.05, 0.2, 0.07],
  [0.08, 0.06, 0.06],
  [0.1, 0.04, 0.05],
  [0.1, 0.03, 0.03],
];
/** [liquid mean, liquid sd, smoothing σ, threshold, intensity (water) or σ (mud), mode: 0 water, 1 mud] */
export const SPATTER: Array<[number, number, number, number, number, 0 | 1]> = [
  [0.62, 0.1, 0.7, 0.7, 0.5, 0],
  [0.65, 0.1, 0.8, 0.7, 0.5, 0],
  [0.65, 0.3, 1, 0.69, 0.5, 0],
  [0.65, 0.1, 0.7, 0.69, 0.6, 1],
  [0.65, 0.1, 0.5, 0.68, 0.6, 1],
];
