import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import { loadExperimentData, splitRows } from '../src/data/index.ts';
import { fixtureLabel, fixturePixel, idxImages, tempDir, writeIdxSet } from './data.fixtures.ts';

type DatasetSpec = ResolvedSpec['dataset'];
const spec = (o: Partial<DatasetSpec>): DatasetSpec => ({
  name: 'fashion-mnist',
  validationSize: 10,
  classes: 10,
  shape: [28, 28, 1],
  labelNoise: 0,
  ...o,
});
/** Options that keep the loader away from this machine's real Debian and cache folders. */
const isolated = () => ({ debianRoot: tempDir('deb-'), cacheDir: tempDir('cache-') });

const N_TRAIN = 300;
const N_TEST = 40;
const D = 784;

/** The example's row, read back from the first two pixels the fixtures write (i mod 256, ⌊i/256⌋). */
const rowOf = (x: Float32Array, i: number): number => Math.round(x[i * D] * 255) + 256 * Math.round(x[i * D + 1] * 255);

describe('loadExperimentData on IDX files', () => {
  const dir = tempDir();
  writeIdxSet(dir, N_TRAIN, N_TEST);

  it('splits have the requested sizes, are disjoint, and carry the file rows they came from', async () => {
    const d = await loadExperimentData(
      spec({ path: dir, validationSize: 50, trainLimit: 200, testLimit: 25 }),
      7,
      isolated(),
    );
    expect(d.source).toBe(`path:${dir}`);
    expect(d.shape).toEqual([28, 28, 1]);
    expect(d.classes).toBe(10);
    expect([d.train.n, d.validation.n, d.test.n]).toEqual([200, 50, 25]);
    expect(d.train.x.length).toBe(200 * D);
    const tr = new Set(d.train.fileIndex);
    const va = new Set(d.validation.fileIndex);
    expect(tr.size).toBe(200);
    expect(va.size).toBe(50);
    for (const v of va) expect(tr.has(v)).toBe(false);
    for (const s of [d.train, d.validation, d.test]) {
      for (let i = 0; i < s.n; i++) {
        const r = s.fileIndex[i];
        expect(rowOf(s.x, i)).toBe(r);
        expect(s.y[i]).toBe(fixtureLabel(r));
        // a pattern pixel: byte / 255 in float32
        expect(s.x[i * D + 100]).toBe(Math.fround(fixturePixel(r, 100) / 255));
      }
    }
    // test = the first testLimit rows of the test file, in order
    expect(Array.from(d.test.fileIndex)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // validation is a shuffle, not the first rows of the file
    expect(Math.max(...d.validation.fileIndex)).toBeGreaterThan(100);
    for (const v of d.train.x) if (v < 0 || v > 1) throw new Error(`pixel ${v} outside [0, 1]`);
  });

  it('defaults: train = every training-file row not in validation, test = the whole test file', async () => {
    const d = await loadExperimentData(spec({ path: dir, validationSize: 30 }), 1, isolated());
    expect(d.train.n).toBe(N_TRAIN - 30);
    expect(d.test.n).toBe(N_TEST);
    const all = new Set([...d.train.fileIndex, ...d.validation.fileIndex]);
    expect(all.size).toBe(N_TRAIN);
    const v0 = await loadExperimentData(spec({ path: dir, validationSize: 0 }), 1, isolated());
    expect(v0.validation.n).toBe(0);
    expect(v0.validation.x.length).toBe(0);
  });

  it('is deterministic for a seed and different for another seed', async () => {
    const s = spec({ path: dir, validationSize: 40, trainLimit: 100 });
    const a = await loadExperimentData(s, 3, isolated());
    const b = await loadExperimentData(s, 3, isolated());
    const c = await loadExperimentData(s, 4, isolated());
    expect(Array.from(a.validation.fileIndex)).toEqual(Array.from(b.validation.fileIndex));
    expect(Array.from(a.train.fileIndex)).toEqual(Array.from(b.train.fileIndex));
    expect(a.checksum).toBe(b.checksum);
    expect(Array.from(a.validation.fileIndex)).not.toEqual(Array.from(c.validation.fileIndex));
    expect(a.checksum).not.toBe(c.checksum);
    // the validation sets of two seeds overlap about as much as two random 40-subsets of 300 do (E = 40·40/300 ≈ 5)
    const overlap = [...a.validation.fileIndex].filter((v) => new Set(c.validation.fileIndex).has(v)).length;
    expect(overlap).toBeLessThan(20);
  });

  it('the checksum follows the data: same bytes plain or gzipped agree, one changed pixel does not', async () => {
    const plain = tempDir();
    writeIdxSet(plain, N_TRAIN, N_TEST, false);
    const s = spec({ validationSize: 20, trainLimit: 50, testLimit: 10 });
    const a = await loadExperimentData({ ...s, path: dir }, 9, isolated());
    const b = await loadExperimentData({ ...s, path: plain }, 9, isolated());
    expect(b.checksum).toBe(a.checksum);
    expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    // change one pixel of test row 3 (inside testLimit)
    const imgs = idxImages(N_TEST);
    imgs[16 + 3 * D + 200] ^= 1;
    writeFileSync(join(plain, 't10k-images-idx3-ubyte'), imgs);
    const c = await loadExperimentData({ ...s, path: plain }, 9, isolated());
    expect(c.checksum).not.toBe(a.checksum);
    // a different trainLimit is different data
    const e = await loadExperimentData({ ...s, path: dir, trainLimit: 49 }, 9, isolated());
    expect(e.checksum).not.toBe(a.checksum);
  });

  it('requests larger than the files are INVALID_INPUT with the file size in the message', async () => {
    const bad = [
      spec({ path: dir, validationSize: N_TRAIN + 1 }),
      spec({ path: dir, validationSize: 100, trainLimit: N_TRAIN - 99 }),
      spec({ path: dir, validationSize: 10, testLimit: N_TEST + 1 }),
    ];
    for (const s of bad) {
      await expect(loadExperimentData(s, 1, isolated())).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/\b(300|40)\b/),
      });
    }
    // exactly the whole file is fine
    const d = await loadExperimentData(
      spec({ path: dir, validationSize: 100, trainLimit: N_TRAIN - 100, testLimit: N_TEST }),
      1,
      isolated(),
    );
    expect(d.train.n + d.validation.n).toBe(N_TRAIN);
  });

  it('a corrupt file in the data folder is DATA_CORRUPT naming that file', async () => {
    const broken = tempDir();
    writeIdxSet(broken, 20, 5, false);
    const labels = join(broken, 'train-labels-idx1-ubyte');
    writeFileSync(labels, Buffer.from([0, 0, 8, 1, 0, 0, 0, 20, ...Array.from({ length: 19 }, () => 1), 11]));
    await expect(loadExperimentData(spec({ path: broken, validationSize: 2 }), 1, isolated())).rejects.toMatchObject({
      code: 'DATA_CORRUPT',
      message: expect.stringContaining(labels),
    });
  });

  it('images of the wrong size for the dataset are DATA_CORRUPT', async () => {
    const odd = tempDir();
    writeIdxSet(odd, 10, 5, false);
    writeFileSync(join(odd, 'train-images-idx3-ubyte'), idxImages(10, 27, 28));
    await expect(loadExperimentData(spec({ path: odd, validationSize: 2 }), 1, isolated())).rejects.toMatchObject({
      code: 'DATA_CORRUPT',
      message: expect.stringContaining('27×28×1'),
    });
  });
});

describe('the selection split', () => {
  const dir = tempDir();
  writeIdxSet(dir, N_TRAIN, N_TEST);

  it('is disjoint from validation and train, deterministic for a seed, and leaves validation as it was', async () => {
    const withSel = spec({ path: dir, validationSize: 40, selectionSize: 60, trainLimit: 150, testLimit: 10 });
    const a = await loadExperimentData(withSel, 3, isolated());
    const b = await loadExperimentData(withSel, 3, isolated());
    expect(a.selection?.n).toBe(60);
    expect([a.train.n, a.validation.n, a.test.n]).toEqual([150, 40, 10]);
    const rows = [a.train, a.validation, a.selection!].map((s) => Array.from(s.fileIndex));
    const all = rows.flat();
    expect(new Set(all).size).toBe(150 + 40 + 60);
    // pixels and labels are the rows they say they are
    for (let i = 0; i < 60; i++) {
      expect(rowOf(a.selection!.x, i)).toBe(a.selection!.fileIndex[i]);
      expect(a.selection!.y[i]).toBe(fixtureLabel(a.selection!.fileIndex[i]));
    }
    expect(Array.from(b.selection!.fileIndex)).toEqual(rows[2]);
    expect(Array.from(b.train.fileIndex)).toEqual(rows[0]);
    expect(b.checksum).toBe(a.checksum);
    const other = await loadExperimentData({ ...withSel }, 4, isolated());
    expect(Array.from(other.selection!.fileIndex)).not.toEqual(rows[2]);
    // the update part is the same draw as without a selection split
    const plain = await loadExperimentData(spec({ path: dir, validationSize: 40, testLimit: 10 }), 3, isolated());
    expect(Array.from(plain.validation.fileIndex)).toEqual(rows[1]);
    expect(new Set(plain.train.fileIndex).size).toBe(N_TRAIN - 40);
  });

  it('selectionSize 0 or absent gives the same data and checksum as before it existed', async () => {
    const base = spec({ path: dir, validationSize: 30, trainLimit: 100, testLimit: 10 });
    const none = await loadExperimentData(base, 5, isolated());
    const zero = await loadExperimentData({ ...base, selectionSize: 0 }, 5, isolated());
    expect(none.selection).toBeUndefined();
    expect(zero.selection).toBeUndefined();
    expect(zero.checksum).toBe(none.checksum);
    expect(Array.from(zero.train.fileIndex)).toEqual(Array.from(none.train.fileIndex));
    const sel = await loadExperimentData({ ...base, selectionSize: 20 }, 5, isolated());
    expect(sel.checksum).not.toBe(none.checksum);
  });

  it('a selection split that does not fit is INVALID_INPUT saying what the file holds', async () => {
    await expect(
      loadExperimentData(spec({ path: dir, validationSize: 100, selectionSize: 250 }), 1, isolated()),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining(`${N_TRAIN} examples`) });
    await expect(
      loadExperimentData(spec({ path: dir, validationSize: 100, selectionSize: 100, trainLimit: 101 }), 1, isolated()),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('at most 100 training examples'),
    });
  });
});

describe('splitRows', () => {
  it('matches the documented formula: validation = π[0..V), train = π[V..V+T) for π = Rng(seed).permutation(N)', async () => {
    const { Rng } = await import('../src/util/rng.ts');
    const pi = new Rng(11).permutation(50);
    const r = splitRows(50, 8, { validationSize: 5, trainLimit: 12, testLimit: 3, seed: 11 });
    expect(Array.from(r.validation)).toEqual(Array.from(pi.slice(0, 5)));
    expect(Array.from(r.train)).toEqual(Array.from(pi.slice(5, 17)));
    expect(Array.from(r.test)).toEqual([0, 1, 2]);
    expect(r.selection).toHaveLength(0);
  });

  it('with a selection split: validation = π[0..V), selection = π[V..V+S), train = π[V+S..V+S+T)', async () => {
    const { Rng } = await import('../src/util/rng.ts');
    const pi = new Rng(11).permutation(50);
    const r = splitRows(50, 8, { validationSize: 5, selectionSize: 7, trainLimit: 12, seed: 11 });
    expect(Array.from(r.validation)).toEqual(Array.from(pi.slice(0, 5)));
    expect(Array.from(r.selection)).toEqual(Array.from(pi.slice(5, 12)));
    expect(Array.from(r.train)).toEqual(Array.from(pi.slice(12, 24)));
    // default T: the rest of the file
    expect(splitRows(50, 8, { validationSize: 5, selectionSize: 7, seed: 11 }).train).toHaveLength(38);
  });
});
