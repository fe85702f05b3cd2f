/** A tiny, hand-made data set for fast training tests: two Gaussian blobs per class in a few pixels. */
import type { ExperimentData, Split } from '../../src/data/types.ts';
import { Rng } from '../../src/util/rng.ts';

function split(n: number, shape: [number, number, number], classes: number, rng: Rng, offset: number): Split {
  const per = shape[0] * shape[1] * shape[2];
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(classes);
    y[i] = c;
    for (let k = 0; k < per; k++) {
      const centre = k % classes === c ? 0.7 : 0.3;
      x[i * per + k] = Math.min(1, Math.max(0, centre + 0.25 * rng.normal()));
    }
  }
  return { x, y, n, fileIndex: Int32Array.from({ length: n }, (_, i) => offset + i) };
}

export function tinyData(
  opts: { n?: number; shape?: [number, number, number]; classes?: number; seed?: number } = {},
): ExperimentData {
  const shape = opts.shape ?? [6, 6, 1];
  const classes = opts.classes ?? 3;
  const rng = new Rng(opts.seed ?? 1);
  const n = opts.n ?? 96;
  return {
    name: 'synthetic',
    source: 'test',
    classes,
    shape,
    train: split(n, shape, classes, rng, 0),
    validation: split(Math.max(10, n >> 2), shape, classes, rng, n),
    test: split(Math.max(10, n >> 2), shape, classes, rng, 0),
    checksum: 'test',
  };
}
