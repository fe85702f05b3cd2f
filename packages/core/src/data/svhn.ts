/**
 * SVHN's cropped-digit files (format 2, http://ufldl.stanford.edu/housenumbers/): `train_32x32.mat` and
 * `test_32x32.mat`, MATLAB level-5 MAT-files holding `X`, uint8 of MATLAB size 32×32×3×N (row, column,
 * channel, image; stored column-major, so X(r, c, ch, i) is byte r + 32·(c + 32·(ch + 3·i))), and `y`, N×1
 * labels 1–10 where 10 is the digit 0. Decoding transposes to NHWC bytes and maps label 10 to 0. No network.
 */
import { ArcalError } from '@arcal/contracts';
import { readDatasetFile } from './file-bytes.ts';
import { MI, MX, matClassName, matNumbers, readMatFile } from './mat.ts';
import type { DecodedImages } from './types.ts';

const corrupt = (file: string, problem: string): ArcalError => new ArcalError('DATA_CORRUPT', `${file}: ${problem}`);

/**
 * Decodes one SVHN format-2 MAT-file: out[((i·h + r)·w + c)·3 + ch] = X(r, c, ch, i), labels y(i) with 10 → 0.
 * Not a level-5 MAT-file, X or y missing, X not uint8 h×w×3×N (a single image may be h×w×3), y not N×1 (or
 * 1×N) real values, or a label that is not an integer 1–10 → DATA_CORRUPT naming `file`.
 */
export function decodeSvhnMat(bytes: Uint8Array, file: string): DecodedImages {
  const { arrays, names } = readMatFile(bytes, file, ['X', 'y']);
  const X = arrays.get('X');
  const y = arrays.get('y');
  if (!X || !y) {
    const lacks = [!X && 'X (the images)', !y && 'y (the labels)'].filter(Boolean).join(' and ');
    const has = names.length ? `it holds ${names.join(', ')}` : 'it holds no variables';
    throw corrupt(file, `no variable ${lacks}; ${has} (not an SVHN format-2 file?)`);
  }
  if (X.cls !== MX.UINT8 || X.type !== MI.UINT8 || X.complex) {
    const what = X.complex ? `complex ${matClassName(X.cls)}` : matClassName(X.cls);
    throw corrupt(file, `X is ${what}, SVHN images are uint8`);
  }
  const dims = X.dims.length === 3 ? [...X.dims, 1] : X.dims;
  if (dims.length !== 4 || dims[2] !== 3) {
    throw corrupt(file, `X is ${X.dims.join('×')}, SVHN images are height×width×3×N`);
  }
  const [h, w, , n] = dims;
  if (y.cls < MX.DOUBLE || y.complex) {
    throw corrupt(file, `y is ${y.complex ? 'complex ' : ''}${matClassName(y.cls)}, SVHN labels are real numbers`);
  }
  const yCount = y.dims.reduce((a, b) => a * b, 1);
  if (y.dims.length !== 2 || Math.min(y.dims[0], y.dims[1]) !== 1 || yCount !== n) {
    throw corrupt(file, `y is ${y.dims.join('×')}, expected ${n}×1 (one label per image of X, which has ${n})`);
  }
  const values = matNumbers(y);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 1 || v > 10) {
      throw corrupt(file, `label ${v} of image ${i} is not an integer 1..10`);
    }
    labels[i] = v === 10 ? 0 : v;
  }
  const src = X.data;
  const pixels = new Uint8Array(src.length);
  const plane = h * w;
  const image = plane * 3;
  for (let i = 0; i < n; i++) {
    const base = i * image;
    for (let ch = 0; ch < 3; ch++) {
      for (let c = 0; c < w; c++) {
        // Column c of channel ch: h consecutive source bytes, one per row.
        let s = base + ch * plane + c * h;
        let o = base + c * 3 + ch;
        for (let r = 0; r < h; r++, s++, o += 3 * w) pixels[o] = src[s];
      }
    }
  }
  return { pixels, labels, n, shape: [h, w, 3] };
}

/** Reads and decodes an SVHN format-2 MAT-file (plain, or gzipped). */
export function readSvhnFile(file: string): DecodedImages {
  return decodeSvhnMat(readDatasetFile(file), file);
}
