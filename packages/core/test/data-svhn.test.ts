/**
 * SVHN format-2 MAT-files. The fixtures in fixtures/svhn were written once by fixtures/svhn/make_fixtures.py
 * (SciPy's savemat, plus a big-endian file written field by field and checked with SciPy's loadmat); the
 * expected values here come from the formula that script used, not from the reader under test.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import {
  DATASETS,
  decodeSvhnMat,
  type FetchLike,
  loadExperimentData,
  loadOodSet,
  readSvhnFile,
} from '../src/data/index.ts';
import { unimplementedPaths } from '../src/experiment/features.ts';
import { expectArcal, tempDir } from './data.fixtures.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/svhn/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);
const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(fixture(name)));

/** X(r, c, ch, i) of every fixture: r = row, c = column (MATLAB's first and second dimensions). */
const pixel = (r: number, c: number, ch: number, i: number): number => (r * 7 + c * 3 + ch * 50 + i * 11) % 256;
/** The y of each fixture as written (1..10) and as arcal's class ids (10 → 0). */
const FILES = [
  { file: 'le.mat', y: [10, 1, 5, 10], labels: [0, 1, 5, 0] },
  { file: 'le-compressed.mat', y: [10, 1, 5, 10], labels: [0, 1, 5, 0] },
  { file: 'be.mat', y: [2, 10, 9, 1], labels: [2, 0, 9, 1] },
];
const N = 4;
const D = 32 * 32 * 3;
const isolated = () => ({ debianRoot: tempDir('deb-'), cacheDir: tempDir('cache-') });

/** A copy of `bytes` with the only occurrence of `find` replaced by `replace` (same length). */
function patch(bytes: Uint8Array, find: number[], replace: number[]): Uint8Array {
  const hits: number[] = [];
  for (let i = 0; i + find.length <= bytes.length; i++) if (find.every((v, k) => bytes[i + k] === v)) hits.push(i);
  expect(hits.length, `pattern ${find} occurs once`).toBe(1);
  const out = bytes.slice();
  out.set(replace, hits[0]);
  return out;
}

const u32le = (...v: number[]): number[] => v.flatMap((x) => [x & 255, (x >>> 8) & 255, (x >>> 16) & 255, x >>> 24]);
const f64le = (v: number): number[] => Array.from(new Uint8Array(new Float64Array([v]).buffer));

/** Every pixel in NHWC order against the formula; `scale` 1 for the decoded bytes, 255 for splits in [0, 1]. */
function expectPixels(px: ArrayLike<number>, rowOf: (k: number) => number, n: number, scale: number): void {
  let bad = 0;
  for (let k = 0; k < n; k++) {
    const i = rowOf(k);
    for (let r = 0; r < 32; r++)
      for (let c = 0; c < 32; c++)
        for (let ch = 0; ch < 3; ch++) {
          const want = scale === 1 ? pixel(r, c, ch, i) : Math.fround(pixel(r, c, ch, i) / scale);
          if (px[k * D + (r * 32 + c) * 3 + ch] !== want) bad++;
        }
  }
  expect(bad).toBe(0);
}

describe('SVHN MAT-file decoding', () => {
  it('the fixtures are what they claim: little-endian, compressed (miCOMPRESSED = 15), big-endian', () => {
    const le = fixtureBytes('le.mat');
    const lez = fixtureBytes('le-compressed.mat');
    const be = fixtureBytes('be.mat');
    expect(String.fromCharCode(le[126], le[127])).toBe('IM');
    expect(new DataView(le.buffer).getUint32(128, true)).toBe(14);
    expect(new DataView(lez.buffer).getUint32(128, true)).toBe(15);
    expect(String.fromCharCode(be[126], be[127])).toBe('MI');
  });

  for (const { file, labels } of FILES) {
    it(`${file}: 4 images of 32×32×3 as NHWC bytes (row r, column c), labels with 10 → 0`, () => {
      const d = readSvhnFile(fixture(file));
      expect(d.n).toBe(N);
      expect(d.shape).toEqual([32, 32, 3]);
      expect(d.pixels).toBeInstanceOf(Uint8Array);
      expect(d.pixels.length).toBe(N * D);
      expect(Array.from(d.labels)).toEqual(labels);
      expect(d.labels).toBeInstanceOf(Int32Array);
      expectPixels(d.pixels, (k) => k, N, 1);
      // spot checks written out: row 1, column 0 differs from row 0, column 1 (7 vs 3)
      expect(d.pixels[(1 * 32 + 0) * 3]).toBe(7);
      expect(d.pixels[(0 * 32 + 1) * 3]).toBe(3);
      expect(d.pixels[3 * D + (31 * 32 + 30) * 3 + 2]).toBe((31 * 7 + 30 * 3 + 100 + 33) % 256);
    });
  }

  it('reads a gzipped copy like the plain file', () => {
    const dir = tempDir();
    const gz = join(dir, 'test_32x32.mat.gz');
    writeFileSync(gz, gzipSync(fixtureBytes('le.mat')));
    const d = readSvhnFile(gz);
    expect(Array.from(d.labels)).toEqual([0, 1, 5, 0]);
    expectPixels(d.pixels, (k) => k, N, 1);
  });

  it('rejects a wrong header, truncation and a MATLAB 7.3 file with DATA_CORRUPT naming the file', () => {
    const le = fixtureBytes('le.mat');
    const lez = fixtureBytes('le-compressed.mat');
    const badHeader = le.slice();
    badHeader[126] = 0x58;
    badHeader[127] = 0x58;
    expectArcal(() => decodeSvhnMat(badHeader, '/d/hdr.mat'), 'DATA_CORRUPT', '/d/hdr.mat', 'not a MATLAB level-5');
    expectArcal(() => decodeSvhnMat(new Uint8Array(10), '/d/tiny.mat'), 'DATA_CORRUPT', '/d/tiny.mat', 'truncated');
    expectArcal(() => decodeSvhnMat(le.subarray(0, le.length - 1), '/d/cut.mat'), 'DATA_CORRUPT', 'truncated');
    expectArcal(() => decodeSvhnMat(le.subarray(0, 300), '/d/cut.mat'), 'DATA_CORRUPT', '/d/cut.mat', 'truncated');
    expectArcal(() => decodeSvhnMat(lez.subarray(0, lez.length - 10), '/d/z.mat'), 'DATA_CORRUPT', 'truncated');
    const v73 = le.slice();
    v73[124] = 0x00;
    v73[125] = 0x02;
    expectArcal(() => decodeSvhnMat(v73, '/d/v73.mat'), 'DATA_CORRUPT', '/d/v73.mat', 'HDF5');
    const garbled = lez.slice();
    for (let k = 140; k < 160; k++) garbled[k] ^= 0xff;
    expectArcal(() => decodeSvhnMat(garbled, '/d/z.mat'), 'DATA_CORRUPT', '/d/z.mat', 'inflate');
  });

  it('rejects a missing variable, wrong dimensions, a count mismatch, a wrong type and bad labels', () => {
    const le = fixtureBytes('le.mat');
    // the array names are small elements: type miINT8 (1), 1 byte, then the name
    const noX = patch(le, [1, 0, 1, 0, 0x58], [1, 0, 1, 0, 0x5a]);
    expectArcal(() => decodeSvhnMat(noX, '/d/nox.mat'), 'DATA_CORRUPT', '/d/nox.mat', 'no variable X', 'Z, y');
    const noY = patch(le, [1, 0, 1, 0, 0x79], [1, 0, 1, 0, 0x7a]);
    expectArcal(() => decodeSvhnMat(noY, '/d/noy.mat'), 'DATA_CORRUPT', 'no variable y');
    // X's dimensions element: miINT32 (5), 16 bytes, 32 32 3 4
    const xDims = u32le(5, 16, 32, 32, 3, 4);
    expectArcal(
      () => decodeSvhnMat(patch(le, xDims, u32le(5, 16, 32, 32, 4, 3)), '/d/dims.mat'),
      'DATA_CORRUPT',
      'X is 32×32×4×3',
    );
    expectArcal(
      () => decodeSvhnMat(patch(le, xDims, u32le(5, 16, 16, 32, 3, 8)), '/d/n.mat'),
      'DATA_CORRUPT',
      'y is 4×1, expected 8×1',
    );
    expectArcal(
      () => decodeSvhnMat(patch(le, xDims, u32le(5, 16, 32, 32, 3, 5)), '/d/short.mat'),
      'DATA_CORRUPT',
      'need 15360 bytes',
    );
    // array flags: miUINT32 (6), 8 bytes, class uint8 (9) → int8 (8); y's class double (6) → complex
    const xFlags = u32le(6, 8, 9, 0);
    expectArcal(
      () => decodeSvhnMat(patch(le, xFlags, u32le(6, 8, 8, 0)), '/d/int8.mat'),
      'DATA_CORRUPT',
      'X is int8, SVHN images are uint8',
    );
    expectArcal(
      () => decodeSvhnMat(patch(le, u32le(6, 8, 6, 0), u32le(6, 8, 6 | 0x800, 0)), '/d/cplx.mat'),
      'DATA_CORRUPT',
      'y is complex double',
    );
    // y = 10, 1, 5, 10 as doubles: make the second one 11, then 0.5
    const y1 = [...f64le(10), ...f64le(1)];
    expectArcal(
      () => decodeSvhnMat(patch(le, y1, [...f64le(10), ...f64le(11)]), '/d/y11.mat'),
      'DATA_CORRUPT',
      'label 11 of image 1',
    );
    expectArcal(
      () => decodeSvhnMat(patch(le, y1, [...f64le(10), ...f64le(0.5)]), '/d/yhalf.mat'),
      'DATA_CORRUPT',
      'label 0.5 of image 1',
    );
  });
});

describe('SVHN as a dataset and an out-of-distribution set', () => {
  it('loadOodSet("svhn") reads the test file alone from dataset.path or ARCAL_DATA_DIR/svhn, scaled to [0, 1]', async () => {
    const dir = tempDir();
    copyFileSync(fixture('be.mat'), join(dir, 'test_32x32.mat'));
    const o = await loadOodSet('svhn', { ...isolated(), path: dir });
    expect(o.n).toBe(N);
    expect(o.shape).toEqual([32, 32, 3]);
    expect(o.source).toBe(`path:${dir} (test file)`);
    expect(Array.from(o.y)).toEqual([2, 0, 9, 1]);
    expectPixels(o.x, (k) => k, N, 255);
    const root = tempDir();
    mkdirSync(join(root, 'svhn'));
    copyFileSync(fixture('le-compressed.mat'), join(root, 'svhn', 'test_32x32.mat'));
    const limited = await loadOodSet('svhn', { ...isolated(), dataDir: root, limit: 3 });
    expect(limited.source).toBe(`data-dir:${join(root, 'svhn')} (test file)`);
    expect(Array.from(limited.y)).toEqual([0, 1, 5]);
    expect(limited.x.length).toBe(3 * D);
  });

  it('a missing SVHN is DATA_NOT_FOUND naming the file, ARCAL_DATA_DIR and the download', async () => {
    const err = await loadOodSet('svhn', { ...isolated(), dataDir: tempDir() }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DATA_NOT_FOUND' });
    expect(err.message).toContain('SVHN not found');
    expect(err.message).toContain('ARCAL_DATA_DIR=<dir with test_32x32.mat> (directly or in svhn/)');
    expect(err.message).toContain('http://ufldl.stanford.edu/housenumbers/test_32x32.mat');
    const dir = tempDir();
    copyFileSync(fixture('le.mat'), join(dir, 'test_32x32.mat'));
    // training needs both files
    await expect(loadExperimentData(svhnSpec().dataset, 1, { ...isolated(), dataDir: dir })).rejects.toMatchObject({
      code: 'DATA_NOT_FOUND',
      message: expect.stringContaining('lacks train_32x32.mat'),
    });
  });

  it('catalog: the published files, and an OOD download fetches only the test file, verified, into the cache', async () => {
    const e = DATASETS.svhn;
    expect([e.format, e.classes, e.shape, e.train, e.test]).toEqual([
      'svhn-mat',
      10,
      [32, 32, 3],
      ['train_32x32.mat'],
      ['test_32x32.mat'],
    ]);
    expect(e.remote.map((r) => [r.urls[0], r.checksum.hex])).toEqual([
      ['http://ufldl.stanford.edu/housenumbers/train_32x32.mat', 'e26dedcc434d2e4c54c9b2d4a06d8373'],
      ['http://ufldl.stanford.edu/housenumbers/test_32x32.mat', 'eb5a983be6a315427106f1b164d9cef3'],
    ]);
    const body = fixtureBytes('be.mat');
    const calls: string[] = [];
    const fetch: FetchLike = async (url) => {
      calls.push(url);
      return new Response(new Uint8Array(body));
    };
    const md5 = createHash('md5').update(body).digest('hex');
    const sources = {
      svhn: [
        {
          name: 'train_32x32.mat',
          urls: ['https://m.example/train'],
          checksum: { algorithm: 'md5' as const, hex: md5 },
        },
        { name: 'test_32x32.mat', urls: ['https://m.example/test'], checksum: { algorithm: 'md5' as const, hex: md5 } },
      ],
    };
    const opts = { ...isolated(), allowDownload: true, fetch, sources };
    const o = await loadOodSet('svhn', opts);
    expect(calls).toEqual(['https://m.example/test']);
    expect(readdirSync(join(opts.cacheDir, 'svhn'))).toEqual(['test_32x32.mat']);
    expect(o.source).toBe(`cache:${join(opts.cacheDir, 'svhn')} (test file)`);
    expect(Array.from(o.y)).toEqual([2, 0, 9, 1]);
  });

  it('the spec resolves svhn to 10 classes of 32×32×3 and accepts it as the OOD set', () => {
    const s = svhnSpec();
    expect(s.dataset).toMatchObject({ name: 'svhn', classes: 10, shape: [32, 32, 3] });
    expect(s.evaluation.ood).toEqual({ dataset: 'svhn' });
    expect(unimplementedPaths(s, { evaluation: { ood: { dataset: 'svhn' } } })).toEqual([]);
  });

  it('loadExperimentData: seeded splits of the training file, the test file in order, pixels and labels traced to their rows', async () => {
    const dir = tempDir();
    copyFileSync(fixture('le-compressed.mat'), join(dir, 'train_32x32.mat'));
    copyFileSync(fixture('be.mat'), join(dir, 'test_32x32.mat'));
    const spec = { ...svhnSpec().dataset, path: dir };
    const d = await loadExperimentData(spec, 3, isolated());
    expect(d.name).toBe('svhn');
    expect(d.source).toBe(`path:${dir}`);
    expect([d.classes, d.shape]).toEqual([10, [32, 32, 3]]);
    expect([d.train.n, d.validation.n, d.test.n]).toEqual([3, 1, 4]);
    const trainLabels = [0, 1, 5, 0];
    for (const s of [d.train, d.validation]) {
      expect(Array.from(s.y)).toEqual(Array.from(s.fileIndex, (i) => trainLabels[i]));
      expectPixels(s.x, (k) => s.fileIndex[k], s.n, 255);
    }
    expect([...d.train.fileIndex, ...d.validation.fileIndex].sort()).toEqual([0, 1, 2, 3]);
    expect(Array.from(d.test.fileIndex)).toEqual([0, 1, 2, 3]);
    expect(Array.from(d.test.y)).toEqual([2, 0, 9, 1]);
    expectPixels(d.test.x, (k) => k, 4, 255);
    const again = await loadExperimentData(spec, 3, isolated());
    expect(again.checksum).toBe(d.checksum);
  });
});

function svhnSpec() {
  const r = validateSpec({
    name: 'svhn',
    dataset: { name: 'svhn', validationSize: 1 },
    model: { arch: 'cnn' },
    training: { epochs: 1, batchSize: 2, optimizer: 'adam', learningRate: 0.001 },
    method: { kind: 'vanilla' },
    evaluation: { ood: { dataset: 'svhn' } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}
