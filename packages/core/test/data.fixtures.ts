/**
 * Writers for tiny dataset files used by the data tests. They build the bytes from the published format
 * descriptions directly (big-endian IDX headers, CHW CIFAR records), independently of the decoders under test.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isArcalError } from '@arcal/contracts';
import { expect } from 'vitest';

export const tempDir = (prefix = 'arcal-data-'): string => mkdtempSync(join(tmpdir(), prefix));

/** An IDX file of unsigned bytes: 00 00 08 nd, nd big-endian uint32 sizes, data. */
export function idxBytes(dims: number[], data: ArrayLike<number>, typeCode = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = typeCode;
  out[3] = dims.length;
  dims.forEach((d, i) => {
    out[4 + 4 * i] = (d >>> 24) & 255;
    out[5 + 4 * i] = (d >>> 16) & 255;
    out[6 + 4 * i] = (d >>> 8) & 255;
    out[7 + 4 * i] = d & 255;
  });
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

/**
 * Pixel byte of example i, pixel p in the fixtures: encodes the example index in the first two pixels
 * (i mod 256, ⌊i/256⌋) so a split can be traced back to its row, and a pattern elsewhere.
 */
export const fixturePixel = (i: number, p: number): number =>
  p === 0 ? i % 256 : p === 1 ? Math.floor(i / 256) : (i * 31 + p * 7) % 256;
export const fixtureLabel = (i: number, classes = 10): number => (i * 7 + 3) % classes;

export function idxImages(n: number, h = 28, w = 28): Uint8Array {
  const data = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) for (let p = 0; p < h * w; p++) data[i * h * w + p] = fixturePixel(i, p);
  return idxBytes([n, h, w], data);
}

export function idxLabels(n: number, classes = 10): Uint8Array {
  return idxBytes(
    [n],
    Array.from({ length: n }, (_, i) => fixtureLabel(i, classes)),
  );
}

/** Writes the four Fashion-MNIST/MNIST files (gzipped with `.gz` names, or plain) into `dir`. */
export function writeIdxSet(dir: string, nTrain: number, nTest: number, gz = true): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const files: Record<string, Uint8Array> = {
    'train-images-idx3-ubyte': idxImages(nTrain),
    'train-labels-idx1-ubyte': idxLabels(nTrain),
    't10k-images-idx3-ubyte': idxImages(nTest),
    't10k-labels-idx1-ubyte': idxLabels(nTest),
  };
  const paths: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(files)) {
    const p = join(dir, gz ? `${name}.gz` : name);
    writeFileSync(p, gz ? gzipSync(bytes) : bytes);
    paths[name] = p;
  }
  return paths;
}

/** CIFAR pixel byte of record i, channel ch, row r, column c. */
export const cifarPixel = (i: number, ch: number, r: number, c: number): number =>
  (i * 13 + ch * 101 + r * 5 + c * 3) % 256;

/** CIFAR records: label bytes then 3072 bytes, red plane, green plane, blue plane, each row-major. */
export function cifarBytes(labels: number[][], offset = 0): Uint8Array {
  const lb = labels[0].length;
  const rec = lb + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((ls, i) => {
    ls.forEach((v, k) => {
      out[i * rec + k] = v;
    });
    for (let ch = 0; ch < 3; ch++) {
      for (let r = 0; r < 32; r++)
        for (let c = 0; c < 32; c++) out[i * rec + lb + ch * 1024 + r * 32 + c] = cifarPixel(i + offset, ch, r, c);
    }
  });
  return out;
}

/** Runs `f`, expecting an ArcalError with `code` whose message contains every string in `mentions`. */
export function expectArcal(f: () => unknown, code: string, ...mentions: string[]): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(isArcalError(caught), `expected an ArcalError ${code}, got ${String(caught)}`).toBe(true);
  const e = caught as { code: string; message: string };
  expect(e.code).toBe(code);
  for (const m of mentions) expect(e.message).toContain(m);
}
