import { describe, expect, it } from 'vitest';
import { affineFrom3 } from '../src/shift/corruptions.ts';
import { poisson } from '../src/shift/image-ops.ts';
import {
  chrominanceQuantTable,
  corrupt,
  dct8x8,
  idct8x8,
  jpegRoundTrip,
  luminanceQuantTable,
} from '../src/shift/index.ts';
import { cannyEdges, chamferDistance, equalizeHist } from '../src/shift/spatter.ts';
import { Rng } from '../src/util/rng.ts';
import { syntheticImages } from './shift-helpers.ts';

const constant = (n: number, h: number, w: number, c: number, v: number) => new Float32Array(n * h * w * c).fill(v);
const stats = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i] - b[i];
  m /= a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i] - b[i] - m) ** 2;
  return { mean: m, sd: Math.sqrt(v / (a.length - 1)) };
};

/** Textbook RGB ↔ HSV, for checking brightness and saturate independently. */
function rgb2hsv([r, g, b]: number[]): number[] {
  const v = Math.max(r, g, b);
  const d = v - Math.min(r, g, b);
  const s = v === 0 ? 0 : d / v;
  let h = 0;
  if (d > 0) {
    if (v === r) h = ((g - b) / d) % 6;
    else if (v === g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h /= 6;
    if (h < 0) h += 1;
  }
  return [h, s, v];
}
function hsv2rgb([h, s, v]: number[]): number[] {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5), f(3), f(1)];
}

describe('noise corruptions match their published noise levels', () => {
  const x = constant(4, 32, 32, 3, 0.5);
  const shape: [number, number, number, number] = [4, 32, 32, 3];
  it('gaussian_noise severity 5: N(0, 0.10²)', () => {
    const s = stats(corrupt(x, shape, 'gaussian_noise', 5, 1), x);
    expect(Math.abs(s.mean)).toBeLessThan(0.004);
    expect(Math.abs(s.sd / 0.1 - 1)).toBeLessThan(0.04);
  });
  it('speckle_noise severity 5: x·N(0, 0.2²) at x = 0.5 has sd 0.1', () => {
    const s = stats(corrupt(x, shape, 'speckle_noise', 5, 2), x);
    expect(Math.abs(s.sd / 0.1 - 1)).toBeLessThan(0.04);
  });
  it('shot_noise severity 1: Poisson(500·0.5)/500 has sd √(0.5/500)', () => {
    const s = stats(corrupt(x, shape, 'shot_noise', 1, 3), x);
    expect(Math.abs(s.mean)).toBeLessThan(0.002);
    expect(Math.abs(s.sd / Math.sqrt(0.5 / 500) - 1)).toBeLessThan(0.04);
  });
  it('impulse_noise severity 5: 7% of entries become 0 or 1', () => {
    const out = corrupt(x, shape, 'impulse_noise', 5, 4);
    const zeros = out.filter((v) => v === 0).length / out.length;
    const ones = out.filter((v) => v === 1).length / out.length;
    expect(Math.abs(zeros + ones - 0.07)).toBeLessThan(0.008);
    expect(Math.abs(zeros - ones)).toBeLessThan(0.01);
  });
  it('the Poisson sampler has mean = variance = λ in both branches', () => {
    const rng = new Rng(6);
    for (const lam of [3, 250]) {
      const d = Array.from({ length: 20000 }, () => poisson(lam, rng));
      const m = d.reduce((a, b) => a + b, 0) / d.length;
      const v = d.reduce((a, b) => a + (b - m) ** 2, 0) / (d.length - 1);
      expect(Math.abs(m / lam - 1)).toBeLessThan(0.02);
      expect(Math.abs(v / lam - 1)).toBeLessThan(0.05);
    }
  });
});

describe('deterministic corruptions against hand values', () => {
  it('contrast severity 3 (c = 0.4) about the channel mean', () => {
    const out = corrupt(Float32Array.from([0, 0.2, 0.4, 1]), [1, 2, 2, 1], 'contrast', 3, 0);
    // mean 0.4 → (v − 0.4)·0.4 + 0.4
    expect(Array.from(out)).toEqual([0.24, 0.32, 0.4, 0.64].map(Math.fround));
  });
  it('brightness severity 5 and saturate severities 3 and 5 agree with an HSV round trip', () => {
    const px = [
      [0.2, 0.4, 0.6],
      [0.9, 0.1, 0.3],
      [0.5, 0.5, 0.5],
      [0, 0, 0],
    ];
    const img = Float32Array.from(px.flat());
    const bright = corrupt(img, [1, 2, 2, 3], 'brightness', 5, 0);
    const sat3 = corrupt(img, [1, 2, 2, 3], 'saturate', 3, 0);
    const sat5 = corrupt(img, [1, 2, 2, 3], 'saturate', 5, 0);
    px.forEach((p, i) => {
      const q = p.map(Math.fround);
      const [h, s, v] = rgb2hsv(q);
      const b = hsv2rgb([h, s, Math.min(1, v + 0.3)]);
      const s3 = hsv2rgb([h, Math.min(1, s * 1.5), v]);
      const s5 = hsv2rgb([h, Math.min(1, s * 2.5 + 0.2), v]);
      for (let ch = 0; ch < 3; ch++) {
        expect(bright[i * 3 + ch]).toBeCloseTo(b[ch], 6);
        expect(sat3[i * 3 + ch]).toBeCloseTo(s3[ch], 6);
        expect(sat5[i * 3 + ch]).toBeCloseTo(s5[ch], 6);
      }
    });
    // a grey pixel gets hue 0 (red) when saturation is added: (0.5, 0.4, 0.4)
    expect(Array.from(sat5.subarray(6, 9))).toEqual([0.5, 0.4, 0.4].map(Math.fround));
  });
  it('gaussian_blur severity 5 (σ = 1 at 32×32) of a centred impulse is the sampled Gaussian g(y)·g(x)', () => {
    const img = new Float32Array(32 * 32);
    img[16 * 32 + 16] = 1;
    const out = corrupt(img, [1, 32, 32, 1], 'gaussian_blur', 5, 0);
    const g = Array.from({ length: 9 }, (_, j) => Math.exp(-((j - 4) ** 2) / 2));
    const z = g.reduce((a, b) => a + b, 0);
    for (let dy = -4; dy <= 4; dy++)
      for (let dx = -4; dx <= 4; dx++)
        expect(out[(16 + dy) * 32 + 16 + dx]).toBeCloseTo((g[dy + 4] * g[dx + 4]) / (z * z), 7);
    expect(out[16 * 32 + 21]).toBe(0); // truncated at 4σ
  });
  it('gaussian_blur scales σ with the image: at 64×64 severity 5 uses σ = 2', () => {
    const img = new Float32Array(64 * 64);
    img[32 * 64 + 32] = 1;
    const out = corrupt(img, [1, 64, 64, 1], 'gaussian_blur', 5, 0);
    const g = Array.from({ length: 17 }, (_, j) => Math.exp(-((j - 8) ** 2) / 8));
    const z = g.reduce((a, b) => a + b, 0);
    expect(out[32 * 64 + 32]).toBeCloseTo((g[8] * g[8]) / (z * z), 7);
    expect(out[35 * 64 + 30]).toBeCloseTo((g[11] * g[6]) / (z * z), 7);
  });
  it('defocus_blur severity 4 (radius 1, anti-alias σ 0.2) spreads an impulse over the 5-pixel cross', () => {
    const img = new Float32Array(32 * 32);
    img[4 * 32 + 4] = 1;
    const full = corrupt(img, [1, 32, 32, 1], 'defocus_blur', 4, 0);
    const out = Float32Array.from({ length: 81 }, (_, i) => full[Math.floor(i / 9) * 32 + (i % 9)]);
    for (const [dy, dx] of [
      [0, 0],
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
    ])
      expect(out[(4 + dy) * 9 + 4 + dx]).toBeCloseTo(0.2, 4);
    expect(out[3 * 9 + 3]).toBeLessThan(1e-4);
  });
  it('blurs, zoom, glass shuffling, pixelate and the elastic warp leave a constant image unchanged', () => {
    const x = constant(1, 32, 32, 3, 200 / 255);
    for (const id of [
      'gaussian_blur',
      'defocus_blur',
      'glass_blur',
      'motion_blur',
      'zoom_blur',
      'pixelate',
      'elastic_transform',
    ] as const)
      for (const s of [1, 5]) {
        const out = corrupt(x, [1, 32, 32, 3], id, s, 1);
        let worst = 0;
        for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - x[i]));
        expect(worst, `${id} severity ${s}`).toBeLessThan(1e-6);
      }
  });
});

describe('JPEG round trip', () => {
  it('uses the Annex K tables scaled by the IJG rule', () => {
    expect(Array.from(luminanceQuantTable(50).subarray(0, 4))).toEqual([16, 11, 10, 16]);
    // quality 80 → scale 40: ⌊(16·40 + 50)/100⌋ = 6, ⌊(11·40 + 50)/100⌋ = 4
    expect(Array.from(luminanceQuantTable(80).subarray(0, 2))).toEqual([6, 4]);
    // quality 10 → scale 500: 17 → 85, 99 → 255 (clamped from 495)
    expect(chrominanceQuantTable(10)[0]).toBe(85);
    expect(chrominanceQuantTable(10)[63]).toBe(255);
  });
  it('DCT: constant block → DC 8c only; inverse recovers the block', () => {
    const c = new Float64Array(64).fill(3);
    const f = dct8x8(c);
    expect(f[0]).toBeCloseTo(24, 12);
    for (let k = 1; k < 64; k++) expect(Math.abs(f[k])).toBeLessThan(1e-12);
    const rng = new Rng(2);
    const b = Float64Array.from({ length: 64 }, () => rng.next() * 255 - 128);
    const back = idct8x8(dct8x8(b));
    for (let k = 0; k < 64; k++) expect(back[k]).toBeCloseTo(b[k], 9);
  });
  it('a constant grey image keeps only a quantised DC term', () => {
    // Y = 200: DC = 8·(200 − 128) = 576. Quality 40 (severity 5) → luminance DC step ⌊(16·125 + 50)/100⌋ = 20,
    // round(576/20)·20 = 580 → 128 + 580/8 = 200.5 → 201; Cb = Cr = 128 code to exactly 0.
    const x = constant(1, 16, 16, 3, 200 / 255);
    const out = corrupt(x, [1, 16, 16, 3], 'jpeg_compression', 5, 0);
    expect(out.every((v) => v === Math.fround(201 / 255))).toBe(true);
    // quality 80 (severity 1) → step 6: 576/6 = 96 exactly, so the grey survives
    const out1 = corrupt(x, [1, 16, 16, 3], 'jpeg_compression', 1, 0);
    expect(out1.every((v) => v === Math.fround(200 / 255))).toBe(true);
  });
  it('quality 100 on a grey image loses at most rounding; lower quality loses more', () => {
    const img = Float64Array.from(syntheticImages(1, 32, 32, 1, 3));
    const err = (q: number) => {
      const out = jpegRoundTrip(img, 32, 32, 1, q);
      let m = 0;
      let se = 0;
      for (let i = 0; i < img.length; i++) {
        m = Math.max(m, Math.abs(out[i] - img[i]));
        se += (out[i] - img[i]) ** 2;
      }
      return { max: m, mse: se / img.length };
    };
    expect(err(100).max).toBeLessThanOrEqual(2 / 255);
    expect(err(40).mse).toBeGreaterThan(err(80).mse);
  });
});

describe('spatter and elastic building blocks', () => {
  it('chamfer distance uses steps 1, 1.4 and 2.1969', () => {
    const src = new Uint8Array(49);
    src[3 * 7 + 3] = 1;
    const d = chamferDistance(src, 7, 7);
    expect(d[3 * 7 + 3]).toBe(0);
    expect(d[3 * 7 + 4]).toBe(1);
    expect(d[4 * 7 + 4]).toBeCloseTo(1.4, 12);
    expect(d[5 * 7 + 4]).toBeCloseTo(2.1969, 12);
    expect(d[3 * 7 + 5]).toBe(2);
    expect(d[5 * 7 + 5]).toBeCloseTo(2.8, 12);
    expect(d[3 * 7 + 0]).toBe(3);
    expect(chamferDistance(new Uint8Array(4), 2, 2).every((v) => v === Infinity)).toBe(true);
  });
  it('histogram equalisation: lut(v) = round(255·(cdf(v) − cdf(min))/(n − count(min)))', () => {
    // counts: 7×2, 8×1, 9×2, 10×1, 200×1 → scale 255/5 = 51 → 0, 51, 153, 204, 255
    expect(Array.from(equalizeHist(Uint8Array.from([7, 7, 8, 9, 9, 10, 200])))).toEqual([0, 0, 51, 153, 153, 204, 255]);
    expect(Array.from(equalizeHist(Uint8Array.from([4, 4, 4])))).toEqual([4, 4, 4]);
    // halves round to even: counts 0×1, 1×1, 2×1 … scale 255/2 → 127.5 → 128, 255
    expect(Array.from(equalizeHist(Uint8Array.from([0, 1, 2])))).toEqual([0, 128, 255]);
    // counts 0×1, 1×3, 2×2, 3×2 → scale 255/7: 3·255/7 = 109.29 → 109, 5·255/7 = 182.14 → 182
    expect(Array.from(equalizeHist(Uint8Array.from([0, 1, 1, 1, 2, 2, 3, 3])))).toEqual([
      0, 109, 109, 109, 182, 182, 255, 255,
    ]);
  });
  it('Canny marks one column for a vertical step (ties go to the left pixel)', () => {
    const img = Uint8Array.from({ length: 64 }, (_, i) => (i % 8 >= 4 ? 255 : 0));
    const e = cannyEdges(img, 8, 8, 50, 150);
    // Sobel |gx| = 1020 at columns 3 and 4; non-maximum suppression keeps v > left and v ≥ right → column 3
    for (let y = 0; y < 8; y++) expect(Array.from(e.subarray(y * 8, y * 8 + 8))).toEqual([0, 0, 0, 1, 0, 0, 0, 0]);
  });
  it('affineFrom3 recovers a known affine map from three points', () => {
    const src = [
      [26, 26],
      [26, 6],
      [6, 6],
    ];
    const f = ([x, y]: number[]) => [2 * x + 0.5 * y + 1, -x + 3 * y - 3];
    const M = affineFrom3(src, src.map(f));
    for (const [i, v] of [2, 0.5, 1, -1, 3, -3].entries()) expect(M[i]).toBeCloseTo(v, 10);
  });
});
