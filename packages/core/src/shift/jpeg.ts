/**
 * A baseline-JPEG round trip for the jpeg_compression corruption: what an encoder at a given quality throws
 * away, without the entropy coding (Huffman coding is lossless, so it does not change the decoded pixels).
 * Steps: 8-bit quantise → JFIF YCbCr → 4:2:0 chroma subsampling (2×2 means, the libjpeg default that PIL
 * uses) → 8×8 DCT-II of (v − 128) → divide by the quality-scaled ITU T.81 Annex K tables, round → multiply
 * back → inverse DCT → chroma upsampled with libjpeg's "fancy" triangle filter (weights 9/16, 3/16, 3/16,
 * 1/16) → RGB, rounded and clamped to 8 bits. One-channel images are coded as a single luminance plane.
 * Pure array maths.
 */

const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
  87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99,
];

/**
 * The IJG quality scaling: s = 5000/q for q < 50, 200 − 2q otherwise; entry ⌊(base·s + 50)/100⌋ clamped to
 * [1, 255]. Quality 50 gives the Annex K tables themselves.
 */
export function scaledQuantTable(base: readonly number[], quality: number): Int32Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const s = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Int32Array.from(base, (b) => Math.min(255, Math.max(1, Math.floor((b * s + 50) / 100))));
}

export const luminanceQuantTable = (quality: number) => scaledQuantTable(LUMA_Q, quality);
export const chrominanceQuantTable = (quality: number) => scaledQuantTable(CHROMA_Q, quality);

/** C[u·8 + x] = α(u) cos((2x + 1)uπ/16), α(0) = √(1/8), α(u>0) = ½: the orthonormal 8-point DCT-II matrix. */
const DCT = (() => {
  const c = new Float64Array(64);
  for (let u = 0; u < 8; u++)
    for (let x = 0; x < 8; x++)
      c[u * 8 + x] = (u === 0 ? Math.sqrt(1 / 8) : 0.5) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return c;
})();

/** F = C B Cᵀ for an 8×8 block (row-major). */
export function dct8x8(block: Float64Array): Float64Array {
  const t = new Float64Array(64);
  for (let u = 0; u < 8; u++)
    for (let x = 0; x < 8; x++) {
      let s = 0;
      for (let y = 0; y < 8; y++) s += DCT[u * 8 + y] * block[y * 8 + x];
      t[u * 8 + x] = s;
    }
  const out = new Float64Array(64);
  for (let u = 0; u < 8; u++)
    for (let v = 0; v < 8; v++) {
      let s = 0;
      for (let x = 0; x < 8; x++) s += t[u * 8 + x] * DCT[v * 8 + x];
      out[u * 8 + v] = s;
    }
  return out;
}

/** B = Cᵀ F C, the inverse of `dct8x8` (C is orthonormal). */
export function idct8x8(coef: Float64Array): Float64Array {
  const t = new Float64Array(64);
  for (let y = 0; y < 8; y++)
    for (let v = 0; v < 8; v++) {
      let s = 0;
      for (let u = 0; u < 8; u++) s += DCT[u * 8 + y] * coef[u * 8 + v];
      t[y * 8 + v] = s;
    }
  const out = new Float64Array(64);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      let s = 0;
      for (let v = 0; v < 8; v++) s += t[y * 8 + v] * DCT[v * 8 + x];
      out[y * 8 + x] = s;
    }
  return out;
}

/** Quantise–dequantise one plane of 0..255 samples in 8×8 blocks (edges padded by repetition), returning the decoded plane. */
function codePlane(plane: Float64Array, h: number, w: number, table: Int32Array): Float64Array {
  const out = new Float64Array(h * w);
  const block = new Float64Array(64);
  for (let by = 0; by < h; by += 8)
    for (let bx = 0; bx < w; bx += 8) {
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++)
          block[y * 8 + x] = plane[Math.min(h - 1, by + y) * w + Math.min(w - 1, bx + x)] - 128;
      const f = dct8x8(block);
      for (let k = 0; k < 64; k++) f[k] = Math.round(f[k] / table[k]) * table[k];
      const b = idct8x8(f);
      for (let y = 0; y < 8 && by + y < h; y++)
        for (let x = 0; x < 8 && bx + x < w; x++) out[(by + y) * w + bx + x] = b[y * 8 + x] + 128;
    }
  return out;
}

const clamp255 = (v: number) => Math.min(255, Math.max(0, Math.round(v)));

/**
 * JPEG round trip of one HWC image in [0, 1] (c = 1 or 3) at the given quality (1–100); returns the decoded
 * image in [0, 1], on the 8-bit grid.
 */
export function jpegRoundTrip(img: Float64Array, h: number, w: number, c: 1 | 3, quality: number): Float64Array {
  const lq = luminanceQuantTable(quality);
  const out = new Float64Array(img.length);
  if (c === 1) {
    const y = Float64Array.from(img, (v) => clamp255(v * 255));
    const d = codePlane(y, h, w, lq);
    for (let p = 0; p < h * w; p++) out[p] = clamp255(d[p]) / 255;
    return out;
  }
  const cq = chrominanceQuantTable(quality);
  const Y = new Float64Array(h * w);
  const Cb = new Float64Array(h * w);
  const Cr = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) {
    const r = clamp255(img[p * 3] * 255);
    const g = clamp255(img[p * 3 + 1] * 255);
    const b = clamp255(img[p * 3 + 2] * 255);
    Y[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    Cb[p] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
    Cr[p] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
  }
  const hs = Math.ceil(h / 2);
  const ws = Math.ceil(w / 2);
  const down = (plane: Float64Array) => {
    const s = new Float64Array(hs * ws);
    for (let y = 0; y < hs; y++)
      for (let x = 0; x < ws; x++) {
        let acc = 0;
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) acc += plane[Math.min(h - 1, 2 * y + dy) * w + Math.min(w - 1, 2 * x + dx)];
        s[y * ws + x] = acc / 4;
      }
    return s;
  };
  const up = (s: Float64Array) => {
    const o = new Float64Array(h * w);
    for (let y = 0; y < h; y++) {
      const cy = y >> 1;
      const ny = Math.min(hs - 1, Math.max(0, y % 2 === 0 ? cy - 1 : cy + 1));
      for (let x = 0; x < w; x++) {
        const cx = x >> 1;
        const nx = Math.min(ws - 1, Math.max(0, x % 2 === 0 ? cx - 1 : cx + 1));
        o[y * w + x] = (9 * s[cy * ws + cx] + 3 * s[ny * ws + cx] + 3 * s[cy * ws + nx] + s[ny * ws + nx]) / 16;
      }
    }
    return o;
  };
  const Yd = codePlane(Float64Array.from(Y, clamp255), h, w, lq);
  const Cbd = up(codePlane(Float64Array.from(down(Cb), clamp255), hs, ws, cq));
  const Crd = up(codePlane(Float64Array.from(down(Cr), clamp255), hs, ws, cq));
  for (let p = 0; p < h * w; p++) {
    const yv = clamp255(Yd[p]);
    const cb = clamp255(Cbd[p]) - 128;
    const cr = clamp255(Crd[p]) - 128;
    out[p * 3] = clamp255(yv + 1.402 * cr) / 255;
    out[p * 3 + 1] = clamp255(yv - 0.344136 * cb - 0.714136 * cr) / 255;
    out[p * 3 + 2] = clamp255(yv + 1.772 * cb) / 255;
  }
  return out;
}
