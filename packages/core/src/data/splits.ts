/**
 * Drawing train / validation / test splits from an official training file and test file, and the checksum
 * that identifies the data a run used. Pure functions over arrays.
 *
 * With N training-file examples, a seeded permutation π of 0..N−1 (Rng(seed).permutation(N)):
 *   validation = π[0 .. V),  selection = π[V .. V + S),  train = π[V + S .. V + S + T)
 *   (S = selectionSize, default 0; T = trainLimit, default N − V − S),  test = 0 .. testLimit − 1 of the test file.
 * The three are disjoint by construction and keep the shuffled order. With S = 0 every split is what it was
 * before the selection split existed, so a spec without one keeps its data.
 */
import { createHash } from 'node:crypto';
import { ArcalError } from '@arcal/contracts';
import { Rng } from '../util/rng.ts';
import type { DecodedImages, Split } from './types.ts';

export interface SplitParams {
  validationSize: number;
  selectionSize?: number;
  trainLimit?: number;
  testLimit?: number;
  seed: number;
}

export interface SplitRows {
  train: Int32Array;
  validation: Int32Array;
  selection: Int32Array;
  test: Int32Array;
}

/**
 * Rows of the training file (train, validation) and test file (test) per the module formula. Requests larger
 * than a file → INVALID_INPUT saying what the file holds.
 */
export function splitRows(nTrainFile: number, nTestFile: number, p: SplitParams, label = 'the dataset'): SplitRows {
  const V = p.validationSize;
  if (!Number.isInteger(V) || V < 0)
    throw new ArcalError('INVALID_INPUT', `dataset.validationSize must be a non-negative integer, got ${V}`);
  if (V > nTrainFile) {
    throw new ArcalError(
      'INVALID_INPUT',
      `dataset.validationSize ${V} exceeds the ${nTrainFile} examples of ${label}'s training file`,
    );
  }
  const S = p.selectionSize ?? 0;
  if (!Number.isInteger(S) || S < 0)
    throw new ArcalError('INVALID_INPUT', `dataset.selectionSize must be a non-negative integer, got ${S}`);
  if (V + S > nTrainFile) {
    throw new ArcalError(
      'INVALID_INPUT',
      `dataset.validationSize ${V} plus selectionSize ${S} exceeds the ${nTrainFile} examples of ${label}'s training file`,
    );
  }
  const held = V + S;
  const heldWhat = S ? `validationSize ${V} and selectionSize ${S}` : `validationSize ${V}`;
  const T = p.trainLimit ?? nTrainFile - held;
  if (!Number.isInteger(T) || T < 0)
    throw new ArcalError('INVALID_INPUT', `dataset.trainLimit must be a positive integer, got ${p.trainLimit}`);
  if (held + T > nTrainFile) {
    throw new ArcalError(
      'INVALID_INPUT',
      `dataset.trainLimit ${T} plus ${heldWhat} exceeds the ${nTrainFile} examples of ${label}'s training file (at most ${nTrainFile - held} training examples remain)`,
    );
  }
  const E = p.testLimit ?? nTestFile;
  if (!Number.isInteger(E) || E < 0)
    throw new ArcalError('INVALID_INPUT', `dataset.testLimit must be a positive integer, got ${p.testLimit}`);
  if (E > nTestFile)
    throw new ArcalError(
      'INVALID_INPUT',
      `dataset.testLimit ${E} exceeds the ${nTestFile} examples of ${label}'s test file`,
    );
  const perm = new Rng(p.seed).permutation(nTrainFile);
  const test = new Int32Array(E);
  for (let i = 0; i < E; i++) test[i] = i;
  return { validation: perm.slice(0, V), selection: perm.slice(V, held), train: perm.slice(held, held + T), test };
}

/**
 * The split made of `rows` of `images`: x in [0, 1] (bytes divided by 255, floats copied), labels, and each
 * row's index in the official file (through `images.origin` when the file was re-ordered).
 */
export function gatherSplit(images: DecodedImages, rows: Int32Array): Split {
  const d = images.shape[0] * images.shape[1] * images.shape[2];
  const n = rows.length;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  const fileIndex = new Int32Array(n);
  const src = images.pixels;
  const bytes = src instanceof Uint8Array;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    const s = r * d;
    const o = i * d;
    if (bytes) for (let k = 0; k < d; k++) x[o + k] = src[s + k] / 255;
    else x.set(src.subarray(s, s + d), o);
    y[i] = images.labels[r];
    fileIndex[i] = images.origin ? images.origin[r] : r;
  }
  return { x, y, n, fileIndex };
}

const asBytes = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * sha256 hex over `header` (JSON) and, for each split in order, its x, y and fileIndex bytes (little-endian
 * as stored), each preceded by its length. Two runs got the same data exactly when their checksums agree.
 */
export function dataChecksum(header: Record<string, unknown>, splits: Split[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(header));
  for (const s of splits) {
    for (const a of [s.x, s.y, s.fileIndex]) {
      h.update(`|${a.length}|`);
      h.update(asBytes(a));
    }
  }
  return h.digest('hex');
}
