/**
 * The spatter corruption (CIFAR-10-C constants): liquid blobs from a thresholded, smoothed Gaussian field.
 * "Water" (severities 1–3) adds pale-turquoise highlights shaped by the distance to the blobs' edges
 * (Canny edges → L2 distance transform capped at 20 → 3×3 mean → histogram equalisation → an emboss kernel →
 * 3×3 mean); "mud" (severities 4–5) paints brown where the smoothed blob mask exceeds 0.8. The 8-bit steps of
 * the published OpenCV pipeline (uint8 casts, saturating filters, histogram equalisation) are reproduced on
 * integers here. One-channel images get the colours' BT.601 luma.
 * Pure array maths.
 */
import type { Rng } from '../util/rng.ts';
import { correlate2d, gaussianFilter } from './image-ops.ts';

const WATER_RGB = [175 / 255, 238 / 255, 238 / 255];
const MUD_RGB = [63 / 255, 42 / 255, 20 / 255];
const lumaOf = (rgb: number[]) => 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];

/**
 * Canny edges of an 8-bit plane (3×3 Sobel with repeated borders, L1 magnitude |gx| + |gy|, non-maximum
 * suppression in four directions, hysteresis: strong > high, weak > low joined to strong through 8-neighbours).
 * Returns 1 on edges, 0 elsewhere.
 */
export function cannyEdges(
  img: Uint8Array | Float64Array,
  h: number,
  w: number,
  low: number,
  high: number,
): Uint8Array {
  const at = (y: number, x: number) => img[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
  const gx = new Float64Array(h * w);
  const gy = new Float64Array(h * w);
  const mag = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const dx =
        at(y - 1, x + 1) + 2 * at(y, x + 1) + at(y + 1, x + 1) - at(y - 1, x - 1) - 2 * at(y, x - 1) - at(y + 1, x - 1);
      const dy =
        at(y + 1, x - 1) + 2 * at(y + 1, x) + at(y + 1, x + 1) - at(y - 1, x - 1) - 2 * at(y - 1, x) - at(y - 1, x + 1);
      gx[y * w + x] = dx;
      gy[y * w + x] = dy;
      mag[y * w + x] = Math.abs(dx) + Math.abs(dy);
    }
  const m = (y: number, x: number) => (y < 0 || y >= h || x < 0 || x >= w ? 0 : mag[y * w + x]);
  const tan22 = Math.tan(Math.PI / 8);
  const tan67 = Math.tan((3 * Math.PI) / 8);
  // 0 not an edge, 1 weak, 2 strong
  const state = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = mag[y * w + x];
      if (v <= low) continue;
      const ax = Math.abs(gx[y * w + x]);
      const ay = Math.abs(gy[y * w + x]);
      let keep: boolean;
      if (ay <= ax * tan22) keep = v > m(y, x - 1) && v >= m(y, x + 1);
      else if (ay >= ax * tan67) keep = v > m(y - 1, x) && v >= m(y + 1, x);
      else {
        const sgn = gx[y * w + x] * gy[y * w + x] < 0 ? -1 : 1;
        keep = v > m(y - 1, x - sgn) && v >= m(y + 1, x + sgn);
      }
      if (keep) state[y * w + x] = v > high ? 2 : 1;
    }
  const edges = new Uint8Array(h * w);
  const stack: number[] = [];
  for (let i = 0; i < h * w; i++)
    if (state[i] === 2) {
      edges[i] = 1;
      stack.push(i);
    }
  while (stack.length) {
    const i = stack.pop()!;
    const y = Math.floor(i / w);
    const x = i % w;
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const j = yy * w + xx;
        if (state[j] === 1 && !edges[j]) {
          edges[j] = 1;
          stack.push(j);
        }
      }
  }
  return edges;
}

/**
 * Distance of every pixel to the nearest source pixel with the 5×5 chamfer metric that approximates L2
 * (steps 1, 1.4 diagonal, 2.1969 knight's move: OpenCV's DIST_L2 with a 5×5 mask), two raster passes.
 * Pixels with no source anywhere get +∞.
 */
export function chamferDistance(source: Uint8Array, h: number, w: number): Float64Array {
  const d = new Float64Array(h * w).fill(Infinity);
  for (let i = 0; i < h * w; i++) if (source[i]) d[i] = 0;
  const a = 1;
  const b = 1.4;
  const c = 2.1969;
  const fwd: Array<[number, number, number]> = [
    [0, -1, a],
    [-1, -1, b],
    [-1, 0, a],
    [-1, 1, b],
    [-1, -2, c],
    [-1, 2, c],
    [-2, -1, c],
    [-2, 1, c],
  ];
  const pass = (offs: Array<[number, number, number]>, ys: number[], xs: number[]) => {
    for (const y of ys)
      for (const x of xs) {
        let v = d[y * w + x];
        for (const [dy, dx, cost] of offs) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) v = Math.min(v, d[yy * w + xx] + cost);
        }
        d[y * w + x] = v;
      }
  };
  const ys = Array.from({ length: h }, (_, i) => i);
  const xs = Array.from({ length: w }, (_, i) => i);
  pass(fwd, ys, xs);
  pass(
    fwd.map(([dy, dx, cost]) => [-dy, -dx, cost]),
    [...ys].reverse(),
    [...xs].reverse(),
  );
  return d;
}

/** Round half to even, as OpenCV's cvRound does under the default floating-point rounding mode. */
const roundHalfEven = (v: number) => {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

/**
 * Histogram equalisation of an 8-bit plane in OpenCV's form: lut(v) = round(255·(cdf(v) − cdf(v_min))/(n − count(v_min))),
 * halves rounded to even; a constant plane is returned unchanged.
 */
export function equalizeHist(img: Uint8Array): Uint8Array {
  const hist = new Int32Array(256);
  for (const v of img) hist[v]++;
  let i = 0;
  while (i < 255 && hist[i] === 0) i++;
  const total = img.length;
  if (hist[i] === total) return Uint8Array.from(img, () => i);
  const scale = 255 / (total - hist[i]);
  const lut = new Uint8Array(256);
  let sum = 0;
  for (let j = i + 1; j < 256; j++) {
    sum += hist[j];
    lut[j] = Math.min(255, Math.max(0, roundHalfEven(sum * scale)));
  }
  return Uint8Array.from(img, (v) => lut[v]);
}

const BOX3 = new Float64Array(9).fill(1 / 9);
const EMBOSS = Float64Array.from([-2, -1, 0, -1, 1, 1, 0, 1, 2]);

export function spatterImage(
  img: Float64Array,
  h: number,
  w: number,
  c: number,
  params: [number, number, number, number, number, 0 | 1],
  rng: Rng,
  s: number,
): Float64Array {
  const [mu, sd, sigma, thr, fifth, mode] = params;
  let liquid: Float64Array = new Float64Array(h * w);
  for (let i = 0; i < liquid.length; i++) liquid[i] = mu + sd * rng.normal();
  liquid = gaussianFilter(liquid, h, w, sigma * s);
  for (let i = 0; i < liquid.length; i++) if (liquid[i] < thr) liquid[i] = 0;
  const out = new Float64Array(img.length);
  if (mode === 0) {
    // 8-bit cast of the liquid layer (clamped: values above 1 are vanishingly rare at these constants)
    const l8 = Uint8Array.from(liquid, (v) => Math.min(255, Math.max(0, Math.floor(v * 255))));
    const edges = cannyEdges(l8, h, w, 50, 150);
    let dist: Float64Array = chamferDistance(edges, h, w).map((v) => Math.min(v, 20));
    dist = correlate2d(dist, h, w, BOX3, 3, 3, 'reflect101');
    const d8 = equalizeHist(Uint8Array.from(dist, (v) => Math.floor(v)));
    const emb = correlate2d(Float64Array.from(d8), h, w, EMBOSS, 3, 3, 'reflect101').map((v) =>
      Math.min(255, Math.max(0, Math.round(v))),
    );
    const shade = correlate2d(emb, h, w, BOX3, 3, 3, 'reflect101').map((v) => Math.round(v));
    const m = new Float64Array(h * w);
    let mx = 0;
    for (let i = 0; i < m.length; i++) {
      m[i] = l8[i] * shade[i];
      mx = Math.max(mx, m[i]);
    }
    const colour = c === 3 ? WATER_RGB : [lumaOf(WATER_RGB)];
    for (let p = 0; p < h * w; p++) {
      const mp = mx > 0 ? (m[p] / mx) * fifth : 0;
      for (let ch = 0; ch < c; ch++) out[p * c + ch] = img[p * c + ch] + mp * colour[ch];
    }
    return out;
  }
  let mask: Float64Array = Float64Array.from(liquid, (v) => (v > thr ? 1 : 0));
  mask = gaussianFilter(mask, h, w, fifth * s);
  const colour = c === 3 ? MUD_RGB : [lumaOf(MUD_RGB)];
  for (let p = 0; p < h * w; p++) {
    const mp = mask[p] < 0.8 ? 0 : mask[p];
    for (let ch = 0; ch < c; ch++) out[p * c + ch] = img[p * c + ch] * (1 - mp) + colour[ch] * mp;
  }
  return out;
}
