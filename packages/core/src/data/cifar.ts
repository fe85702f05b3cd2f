/**
 * The CIFAR binary formats (https://www.cs.toronto.edu/~kriz/cifar.html). Each record is the label byte(s)
 * followed by 3072 pixel bytes: the 1024 red values of the 32×32 image in row-major order, then green, then
 * blue (CHW). CIFAR-10 records have one label byte (0–9); CIFAR-100 records have a coarse (0–19) and a fine
 * (0–99) label byte, and arcal uses the fine one. Decoding transposes to NHWC. No network.
 */
import { ArcalError } from '@arcal/contracts';
import { readDatasetFile } from './file-bytes.ts';
import type { DecodedImages } from './types.ts';

export const CIFAR_SIDE = 32;
const PLANE = CIFAR_SIDE * CIFAR_SIDE;
const PIXELS = 3 * PLANE;

export interface CifarLayout {
  /** Label bytes per record: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Upper bound (exclusive) for each label byte, e.g. [10] or [20, 100]. */
  labelRanges: number[];
  /** Which label byte is the class, e.g. 0 for CIFAR-10, 1 (fine) for CIFAR-100. */
  classByte: number;
}

export const CIFAR10_LAYOUT: CifarLayout = { labelBytes: 1, labelRanges: [10], classByte: 0 };
export const CIFAR100_LAYOUT: CifarLayout = { labelBytes: 2, labelRanges: [20, 100], classByte: 1 };

/**
 * Decodes the records of one CIFAR binary file into NHWC bytes: out[((i·32 + r)·32 + c)·3 + ch] =
 * record_i[labelBytes + ch·1024 + r·32 + c]. A length that is not a whole number of records, an empty file,
 * or a label byte out of its range → DATA_CORRUPT naming `file`.
 */
export function decodeCifar(bytes: Uint8Array, file: string, layout: CifarLayout): DecodedImages {
  const rec = layout.labelBytes + PIXELS;
  if (bytes.length === 0) throw new ArcalError('DATA_CORRUPT', `${file}: empty file`);
  if (bytes.length % rec !== 0) {
    throw new ArcalError(
      'DATA_CORRUPT',
      `${file}: ${bytes.length} bytes is not a whole number of ${rec}-byte CIFAR records (truncated or not a CIFAR binary file)`,
    );
  }
  const n = bytes.length / rec;
  const pixels = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * rec;
    for (let k = 0; k < layout.labelBytes; k++) {
      const v = bytes[base + k];
      if (v >= layout.labelRanges[k]) {
        const which = layout.labelBytes === 2 ? (k === 0 ? 'coarse label' : 'fine label') : 'label';
        throw new ArcalError(
          'DATA_CORRUPT',
          `${file}: ${which} ${v} of record ${i} is out of range 0..${layout.labelRanges[k] - 1}`,
        );
      }
    }
    labels[i] = bytes[base + layout.classByte];
    const src = base + layout.labelBytes;
    const dst = i * PIXELS;
    for (let p = 0; p < PLANE; p++) {
      const o = dst + 3 * p;
      pixels[o] = bytes[src + p];
      pixels[o + 1] = bytes[src + PLANE + p];
      pixels[o + 2] = bytes[src + 2 * PLANE + p];
    }
  }
  return { pixels, labels, n, shape: [CIFAR_SIDE, CIFAR_SIDE, 3] };
}

/** Concatenates decoded parts (e.g. CIFAR-10's five training batches) in order. */
export function concatDecoded(parts: DecodedImages[]): DecodedImages {
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((s, p) => s + p.n, 0);
  const d = parts[0].shape[0] * parts[0].shape[1] * parts[0].shape[2];
  const pixels = new Uint8Array(n * d);
  const labels = new Int32Array(n);
  let off = 0;
  for (const p of parts) {
    pixels.set(p.pixels as Uint8Array, off * d);
    labels.set(p.labels, off);
    off += p.n;
  }
  return { pixels, labels, n, shape: parts[0].shape };
}

/** Reads and decodes CIFAR binary files (gzipped or plain) in the order given, as one array. */
export function readCifarFiles(files: string[], layout: CifarLayout): DecodedImages {
  return concatDecoded(files.map((f) => decodeCifar(readDatasetFile(f), f, layout)));
}
