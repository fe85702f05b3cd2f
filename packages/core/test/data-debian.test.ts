import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEBIAN_ROOT, loadDatasetFiles, loadExperimentData } from '../src/data/index.ts';

const dir = join(DEFAULT_DEBIAN_ROOT, 'fashion-mnist');
const present = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
].every((f) => existsSync(join(dir, f)));
if (!present) {
  console.warn(
    `SKIPPED: real Fashion-MNIST tests — ${dir} lacks the IDX files (apt-get install dataset-fashion-mnist to run them)`,
  );
}

describe.skipIf(!present)('real Fashion-MNIST from the Debian package', () => {
  it('has the published sizes (60,000 / 10,000 of 28×28) and 6,000 / 1,000 images per class', async () => {
    const f = await loadDatasetFiles('fashion-mnist', { cacheDir: '/nonexistent-arcal-cache' });
    expect(f.source).toBe(`debian:${dir}`);
    expect([f.train.n, f.test.n]).toEqual([60000, 10000]);
    expect(f.shape).toEqual([28, 28, 1]);
    const train = new Array(10).fill(0);
    const test = new Array(10).fill(0);
    for (const y of f.train.labels) train[y]++;
    for (const y of f.test.labels) test[y]++;
    expect(train).toEqual(new Array(10).fill(6000));
    expect(test).toEqual(new Array(10).fill(1000));
  });

  it('split pixels equal the raw file bytes / 255 (read here with zlib, skipping the 16-byte header)', async () => {
    const raw = gunzipSync(readFileSync(join(dir, 'train-images-idx3-ubyte.gz')));
    const labels = gunzipSync(readFileSync(join(dir, 'train-labels-idx1-ubyte.gz')));
    const d = await loadExperimentData(
      {
        name: 'fashion-mnist',
        validationSize: 1000,
        trainLimit: 2000,
        testLimit: 500,
        classes: 10,
        shape: [28, 28, 1],
        labelNoise: 0,
      },
      3,
      { cacheDir: '/nonexistent-arcal-cache' },
    );
    for (const i of [0, 777, 1999]) {
      const r = d.train.fileIndex[i];
      expect(d.train.y[i]).toBe(labels[8 + r]);
      for (let p = 0; p < 784; p += 13) expect(d.train.x[i * 784 + p]).toBe(Math.fround(raw[16 + r * 784 + p] / 255));
    }
  });
});
