import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_LAYOUT,
  CIFAR100_LAYOUT,
  decodeCifar,
  decodeIdxPair,
  parseIdx,
  readCifarFiles,
  readDatasetFile,
  readIdxPair,
  tarMembers,
} from '../src/data/index.ts';
import {
  cifarBytes,
  cifarPixel,
  expectArcal,
  fixtureLabel,
  fixturePixel,
  idxBytes,
  idxImages,
  idxLabels,
  tempDir,
} from './data.fixtures.ts';

describe('IDX decoding', () => {
  it('decodes a plain and a gzipped pair to the bytes written, NHWC with c = 1', () => {
    const dir = tempDir();
    const n = 5;
    for (const gz of [false, true]) {
      const img = join(dir, `img${gz ? '.gz' : ''}`);
      const lab = join(dir, `lab${gz ? '.gz' : ''}`);
      writeFileSync(img, gz ? gzipSync(idxImages(n, 4, 3)) : idxImages(n, 4, 3));
      writeFileSync(lab, gz ? gzipSync(idxLabels(n)) : idxLabels(n));
      const d = readIdxPair(img, lab, 10);
      expect(d.n).toBe(n);
      expect(d.shape).toEqual([4, 3, 1]);
      for (let i = 0; i < n; i++) {
        expect(d.labels[i]).toBe(fixtureLabel(i));
        for (let p = 0; p < 12; p++) expect(d.pixels[i * 12 + p]).toBe(fixturePixel(i, p));
      }
    }
  });

  it('reads the header sizes big-endian (a 300-image file)', () => {
    const a = parseIdx(idxBytes([300, 1, 2], new Uint8Array(600)), 'f', 3);
    expect(a.dims).toEqual([300, 1, 2]);
    expect(a.data.length).toBe(600);
  });

  it('names the file and the problem for wrong magic, type, dimensions, truncation and trailing bytes', () => {
    const good = idxImages(2, 2, 2);
    const wrongMagic = good.slice();
    wrongMagic[0] = 0x12;
    expectArcal(() => parseIdx(wrongMagic, '/d/train-images', 3), 'DATA_CORRUPT', '/d/train-images', 'magic');
    expectArcal(
      () => parseIdx(idxBytes([2, 2, 2], new Uint8Array(8), 0x0d), '/d/f32', 3),
      'DATA_CORRUPT',
      '/d/f32',
      'element type',
    );
    expectArcal(() => parseIdx(good, '/d/labels', 1), 'DATA_CORRUPT', '/d/labels', '3 dimensions, expected 1');
    expectArcal(() => parseIdx(good.subarray(0, good.length - 1), '/d/cut', 3), 'DATA_CORRUPT', '/d/cut', 'truncated');
    expectArcal(() => parseIdx(good.subarray(0, 9), '/d/header', 3), 'DATA_CORRUPT', '/d/header', 'truncated header');
    expectArcal(() => parseIdx(good.subarray(0, 2), '/d/tiny', 3), 'DATA_CORRUPT', '/d/tiny', 'truncated');
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expectArcal(() => parseIdx(longer, '/d/long', 3), 'DATA_CORRUPT', '/d/long', 'unexpected bytes');
  });

  it('rejects an out-of-range label and a count mismatch, naming the label file', () => {
    const labels = idxBytes([3], [1, 10, 2]);
    expectArcal(
      () => decodeIdxPair(idxImages(3, 2, 2), labels, { images: 'I', labels: '/x/labels.gz' }, 10),
      'DATA_CORRUPT',
      '/x/labels.gz',
      'label 10',
      'index 1',
    );
    expectArcal(
      () => decodeIdxPair(idxImages(3, 2, 2), idxLabels(4), { images: '/x/img', labels: '/x/lab' }, 10),
      'DATA_CORRUPT',
      '/x/lab',
      '4 labels',
      '3 images',
    );
  });

  it('reports a damaged gzip stream and a truncated gzip file as DATA_CORRUPT naming the file', () => {
    const dir = tempDir();
    const gz = gzipSync(idxImages(4));
    const cut = join(dir, 'cut.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    expectArcal(() => readDatasetFile(cut), 'DATA_CORRUPT', cut, 'gzip');
    const garbage = join(dir, 'garbage.gz');
    writeFileSync(garbage, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    expectArcal(() => readDatasetFile(garbage), 'DATA_CORRUPT', garbage);
    expectArcal(() => readDatasetFile(join(dir, 'absent')), 'DATA_NOT_FOUND', join(dir, 'absent'));
  });

  it('a file read again gives its bytes as a fresh copy, and the new bytes once the file changes', () => {
    const dir = tempDir();
    const file = join(dir, 'images.gz');
    writeFileSync(file, gzipSync(Buffer.from([1, 2, 3, 4])));
    const first = readDatasetFile(file);
    expect([...first]).toEqual([1, 2, 3, 4]);
    first[0] = 99; // a caller that writes into its copy changes nothing for the next ones
    const second = readDatasetFile(file); // from here on served from memory
    second[1] = 99;
    expect([...second]).toEqual([1, 99, 3, 4]);
    expect([...readDatasetFile(file)]).toEqual([1, 2, 3, 4]);
    // same size, new content and a new modification time
    writeFileSync(file, gzipSync(Buffer.from([5, 6, 7, 8])));
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect([...readDatasetFile(file)]).toEqual([5, 6, 7, 8]);
    writeFileSync(file, Buffer.from([9, 9]));
    expect([...readDatasetFile(file)]).toEqual([9, 9]);
  });
});

describe('CIFAR binary decoding', () => {
  it('CIFAR-10: label byte then CHW planes → NHWC, values equal to the bytes written', () => {
    const labels = [[3], [9], [0]];
    const d = decodeCifar(cifarBytes(labels), 'b', CIFAR10_LAYOUT);
    expect(d.n).toBe(3);
    expect(d.shape).toEqual([32, 32, 3]);
    expect(Array.from(d.labels)).toEqual([3, 9, 0]);
    for (let i = 0; i < 3; i++) {
      for (let r = 0; r < 32; r++) {
        for (let c = 0; c < 32; c++) {
          for (let ch = 0; ch < 3; ch++) {
            if (d.pixels[((i * 32 + r) * 32 + c) * 3 + ch] !== cifarPixel(i, ch, r, c))
              throw new Error(`pixel ${i},${r},${c},${ch}`);
          }
        }
      }
    }
  });

  it('CIFAR-100: uses the fine label (second byte)', () => {
    const d = decodeCifar(
      cifarBytes([
        [19, 99],
        [0, 42],
      ]),
      'train.bin',
      CIFAR100_LAYOUT,
    );
    expect(Array.from(d.labels)).toEqual([99, 42]);
    expect(d.pixels[((1 * 32 + 2) * 32 + 5) * 3 + 1]).toBe(cifarPixel(1, 1, 2, 5));
  });

  it('concatenates batches in order (file index = batch·records + record)', () => {
    const dir = tempDir();
    const a = join(dir, 'data_batch_1.bin');
    const b = join(dir, 'data_batch_2.bin');
    writeFileSync(a, cifarBytes([[1], [2]], 0));
    writeFileSync(b, gzipSync(cifarBytes([[3], [4], [5]], 2)));
    const d = readCifarFiles([a, b], CIFAR10_LAYOUT);
    expect(d.n).toBe(5);
    expect(Array.from(d.labels)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 0; i < 5; i++) expect(d.pixels[((i * 32 + 7) * 32 + 9) * 3 + 2]).toBe(cifarPixel(i, 2, 7, 9));
  });

  it('truncated records, bad labels and empty files are DATA_CORRUPT naming the file', () => {
    const bytes = cifarBytes([[1], [2]]);
    expectArcal(
      () => decodeCifar(bytes.subarray(0, bytes.length - 10), '/c/data_batch_3.bin', CIFAR10_LAYOUT),
      'DATA_CORRUPT',
      '/c/data_batch_3.bin',
      '3073-byte',
    );
    expectArcal(
      () => decodeCifar(cifarBytes([[1], [10]]), '/c/test_batch.bin', CIFAR10_LAYOUT),
      'DATA_CORRUPT',
      '/c/test_batch.bin',
      'label 10',
      'record 1',
    );
    expectArcal(
      () => decodeCifar(cifarBytes([[5, 100]]), '/c/train.bin', CIFAR100_LAYOUT),
      'DATA_CORRUPT',
      '/c/train.bin',
      'fine label 100',
    );
    expectArcal(
      () => decodeCifar(cifarBytes([[20, 5]]), '/c/train.bin', CIFAR100_LAYOUT),
      'DATA_CORRUPT',
      'coarse label 20',
    );
    expectArcal(
      () => decodeCifar(new Uint8Array(0), '/c/empty.bin', CIFAR10_LAYOUT),
      'DATA_CORRUPT',
      '/c/empty.bin',
      'empty',
    );
    // a CIFAR-10 file read as CIFAR-100 does not divide into 3074-byte records
    expectArcal(
      () => decodeCifar(cifarBytes([[1], [2], [3]]), '/c/x.bin', CIFAR100_LAYOUT),
      'DATA_CORRUPT',
      '3074-byte',
    );
  });
});

describe('tar members', () => {
  /** A ustar header for a regular file, built from the format description. */
  function header(name: string, size: number): Uint8Array {
    const h = new Uint8Array(512);
    const put = (off: number, s: string) => h.set(new TextEncoder().encode(s), off);
    put(0, name);
    put(100, '0000644\0');
    put(124, `${size.toString(8).padStart(11, '0')}\0`);
    put(156, '0');
    put(257, 'ustar\0');
    put(263, '00');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
    return h;
  }
  const archive = (entries: Array<[string, Uint8Array]>): Uint8Array => {
    const parts: Uint8Array[] = [];
    for (const [name, data] of entries) {
      parts.push(header(name, data.length), data, new Uint8Array((512 - (data.length % 512)) % 512));
    }
    parts.push(new Uint8Array(1024));
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };

  it('returns the wanted regular files with their bytes', () => {
    const a = Uint8Array.from({ length: 700 }, (_, i) => i % 251);
    const b = Uint8Array.from([1, 2, 3]);
    const m = tarMembers(
      archive([
        ['dir/a.bin', a],
        ['dir/b.bin', b],
        ['dir/c.bin', b],
      ]),
      't.tar',
      ['dir/a.bin', 'dir/b.bin'],
    );
    expect([...m.keys()].sort()).toEqual(['dir/a.bin', 'dir/b.bin']);
    expect(Array.from(m.get('dir/a.bin') as Uint8Array)).toEqual(Array.from(a));
    expect(Array.from(m.get('dir/b.bin') as Uint8Array)).toEqual([1, 2, 3]);
  });

  it('a damaged header or a truncated member is DATA_CORRUPT', () => {
    const t = archive([['x', new Uint8Array(600)]]);
    const bad = t.slice();
    bad[10] ^= 0xff;
    expectArcal(() => tarMembers(bad, 'arch.tar.gz', ['x']), 'DATA_CORRUPT', 'arch.tar.gz', 'checksum');
    expectArcal(() => tarMembers(t.subarray(0, 700), 'arch.tar.gz', ['x']), 'DATA_CORRUPT', 'truncated');
  });
});
