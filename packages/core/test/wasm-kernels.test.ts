/**
 * arcal's wasm gradient kernels against the pure-JS cpu backend (the reference), through tf.grads of the
 * forward ops, on random shapes: batch 1, odd sizes, strides 1 and 2, 'same'/'valid'/explicit padding,
 * 1/3/8 channels, ties and all-zero windows in max-pooling. Tolerance: max|a−b| / max|b| ≤ 1e-4.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it } from 'vitest';
import { ready, tf } from '../src/backend/index.ts';
import { registeredWasmKernels, registerWasmKernels, WASM_KERNEL_NAMES } from '../src/backend/wasm-kernels/index.ts';
import { Rng } from '../src/util/rng.ts';

type Backend = 'cpu' | 'wasm';
type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

function randomArray(rng: Rng, n: number, values?: number[]): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = values ? values[rng.int(values.length)] : rng.normal();
  return a;
}

/** Runs `f` on `backend` and returns its outputs as plain arrays (all tensors disposed). */
async function on(backend: Backend, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const vals = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return vals;
}

function relError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

async function expectSameOnBoth(f: () => tf.Tensor[]): Promise<void> {
  const ref = await on('cpu', f);
  const got = await on('wasm', f);
  expect(got.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    expect(got[i].every(Number.isFinite)).toBe(true);
    expect(relError(got[i], ref[i])).toBeLessThanOrEqual(1e-4);
  }
}

beforeAll(async () => {
  await ready({ backend: 'wasm' });
});

describe('registerWasmKernels', () => {
  it('registers every kernel on wasm once and is idempotent', () => {
    expect(registerWasmKernels()).toBe(WASM_KERNEL_NAMES.length);
    expect(registerWasmKernels()).toBe(WASM_KERNEL_NAMES.length);
    expect(new Set(registeredWasmKernels())).toEqual(new Set(WASM_KERNEL_NAMES));
    for (const name of WASM_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });
});

interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  stride: number | [number, number];
  pad: Pad;
}

const convCases: ConvCase[] = [
  { n: 1, h: 5, w: 7, ci: 1, co: 3, kh: 3, kw: 3, stride: 1, pad: 'same' },
  { n: 2, h: 9, w: 6, ci: 3, co: 8, kh: 3, kw: 3, stride: 1, pad: 'valid' },
  { n: 3, h: 8, w: 8, ci: 8, co: 3, kh: 3, kw: 3, stride: 2, pad: 'same' }, // asymmetric 'same' padding
  { n: 2, h: 7, w: 9, ci: 3, co: 1, kh: 2, kw: 3, stride: 2, pad: 'same' },
  { n: 1, h: 10, w: 7, ci: 3, co: 8, kh: 3, kw: 2, stride: 2, pad: 'valid' }, // unread trailing rows
  { n: 2, h: 7, w: 7, ci: 8, co: 8, kh: 5, kw: 5, stride: [1, 2], pad: 'same' },
  { n: 2, h: 6, w: 5, ci: 1, co: 8, kh: 1, kw: 1, stride: 1, pad: 'valid' },
  {
    n: 2,
    h: 6,
    w: 7,
    ci: 3,
    co: 3,
    kh: 3,
    kw: 3,
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  {
    n: 1,
    h: 9,
    w: 8,
    ci: 3,
    co: 8,
    kh: 3,
    kw: 3,
    stride: 2,
    pad: [
      [0, 0],
      [2, 0],
      [1, 3],
      [0, 0],
    ],
  },
  {
    n: 2,
    h: 5,
    w: 5,
    ci: 3,
    co: 3,
    kh: 3,
    kw: 3,
    stride: 1,
    pad: [
      [0, 0],
      [3, 1],
      [0, 4],
      [0, 0],
    ],
  }, // pad ≥ kernel
  { n: 4, h: 28, w: 28, ci: 1, co: 8, kh: 3, kw: 3, stride: 1, pad: 'same' },
];

describe('Conv2DBackpropFilter and Conv2DBackpropInput (through tf.grads of conv2d)', () => {
  it.each(convCases)('matches cpu: %j', async (c) => {
    const rng = new Rng(c.h * 131 + c.w * 17 + c.ci * 5 + c.co);
    const xv = randomArray(rng, c.n * c.h * c.w * c.ci);
    const wv = randomArray(rng, c.kh * c.kw * c.ci * c.co);
    const outShape = tf.tidy(
      () =>
        tf.conv2d(
          tf.zeros([c.n, c.h, c.w, c.ci]) as tf.Tensor4D,
          tf.zeros([c.kh, c.kw, c.ci, c.co]) as tf.Tensor4D,
          c.stride,
          c.pad,
        ).shape,
    );
    const rv = randomArray(
      rng,
      outShape.reduce((p, q) => p * q, 1),
    );
    await expectSameOnBoth(() => {
      const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
      const w = tf.tensor4d(wv, [c.kh, c.kw, c.ci, c.co]);
      const r = tf.tensor(rv, outShape);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)),
      );
      return g([x, w]);
    });
  });
});

describe('BatchMatMul with transposes (through tf.grads of matMul)', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[1, 9], [9, 1], false, false],
    [[2, 4, 6], [2, 6, 3], false, false],
    [[2, 6, 4], [2, 3, 6], true, true],
  ];
  it.each(cases)('matches cpu: a %j b %j tA=%s tB=%s', async (sa, sb, ta, tb) => {
    const rng = new Rng(sa.length * 100 + sa[0] * 10 + (ta ? 1 : 0) + (tb ? 2 : 0));
    const av = randomArray(
      rng,
      sa.reduce((p, q) => p * q, 1),
    );
    const bv = randomArray(
      rng,
      sb.reduce((p, q) => p * q, 1),
    );
    const outShape = tf.tidy(() => tf.matMul(tf.zeros(sa), tf.zeros(sb), ta, tb).shape);
    const rv = randomArray(
      rng,
      outShape.reduce((p, q) => p * q, 1),
    );
    await expectSameOnBoth(() => {
      const r = tf.tensor(rv, outShape);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, ta, tb), r)));
      return [...g([tf.tensor(av, sa), tf.tensor(bv, sb)]), tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb)];
    });
  });
});

describe('MaxPoolGrad (through tf.grad of maxPool)', () => {
  const cases: {
    shape: [number, number, number, number];
    f: number | [number, number];
    s: number;
    pad: 'same' | 'valid';
    values?: number[];
  }[] = [
    { shape: [2, 6, 6, 3], f: 2, s: 2, pad: 'valid', values: [0, 0, 0, 1, 2] }, // ties and all-zero windows
    { shape: [1, 7, 5, 8], f: 2, s: 2, pad: 'same', values: [0, 0, 1] },
    { shape: [2, 7, 7, 1], f: 3, s: 2, pad: 'same', values: [-1, 0, 1] }, // overlapping windows
    { shape: [1, 6, 5, 3], f: 3, s: 1, pad: 'valid', values: [0, 2] },
    { shape: [2, 9, 8, 8], f: [2, 3], s: 2, pad: 'same' },
    { shape: [3, 5, 5, 3], f: 2, s: 1, pad: 'same', values: [-2, -1] }, // negative-only windows
  ];
  it.each(cases)('matches cpu: %j', async (c) => {
    const rng = new Rng(c.shape[1] * 31 + c.shape[3]);
    const n = c.shape.reduce((p, q) => p * q, 1);
    const xv = randomArray(rng, n, c.values);
    const outShape = tf.tidy(() => tf.maxPool(tf.zeros(c.shape) as tf.Tensor4D, c.f, c.s, c.pad).shape);
    const rv = randomArray(
      rng,
      outShape.reduce((p, q) => p * q, 1),
    );
    await expectSameOnBoth(() => {
      const r = tf.tensor(rv, outShape);
      return [
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(x as tf.Tensor4D, c.f, c.s, c.pad), r)))(
          tf.tensor(xv, c.shape),
        ),
      ];
    });
  });

  it('sends each window’s gradient to its first maximum, also in all-zero and negative windows', async () => {
    await tf.setBackend('wasm');
    // 4×4, one channel, 2×2 windows: [[0,0 | 3,3], [0,0 | 1,3] / [-2,-1 | 5,0], [-1,-3 | 0,5]]
    const x = tf.tensor4d([0, 0, 3, 3, 0, 0, 1, 3, -2, -1, 5, 0, -1, -3, 0, 5], [1, 4, 4, 1]);
    const dy = tf.tensor4d([10, 20, 30, 40], [1, 2, 2, 1]);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), dy)))(x);
    expect(Array.from(dx.dataSync())).toEqual([10, 0, 20, 0, 0, 0, 0, 0, 0, 30, 40, 0, 0, 0, 0, 0]);
    tf.dispose([x, dy, dx]);
  });
});

describe('Sum over leading axes (bias gradients) and the other reductions', () => {
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [3, 5, 7, 8], axis: [0, 1, 2], keepDims: false },
    { shape: [1, 4, 4, 3], axis: [0, 1, 2], keepDims: true },
    { shape: [9, 6], axis: 0, keepDims: false },
    { shape: [4, 5, 6], axis: [1, 0], keepDims: false },
    { shape: [4, 5, 6], axis: [1, 2], keepDims: true }, // innermost: stock kernel
    { shape: [4, 5, 6], axis: [0, 2], keepDims: false }, // not leading: stock kernel
    { shape: [7, 1], axis: 0, keepDims: false },
  ];
  it.each(cases)('tf.sum matches cpu: %j', async (c) => {
    const rng = new Rng(c.shape.length * 7 + c.shape[0]);
    const xv = randomArray(
      rng,
      c.shape.reduce((p, q) => p * q, 1),
    );
    await expectSameOnBoth(() => [tf.sum(tf.tensor(xv, c.shape), c.axis, c.keepDims)]);
  });

  it('bias gradients of conv2d + bias and dense + bias match cpu', async () => {
    const rng = new Rng(11);
    const xv = randomArray(rng, 2 * 9 * 7 * 3);
    const wv = randomArray(rng, 3 * 3 * 3 * 8);
    const bv = randomArray(rng, 8);
    const dv = randomArray(rng, 8 * 5);
    const cv = randomArray(rng, 5);
    await expectSameOnBoth(() => {
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, d: tf.Tensor, c: tf.Tensor) => {
        const h = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), b));
        const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
        return tf.sum(tf.square(tf.add(tf.matMul(pooled, d as tf.Tensor2D), c)));
      };
      return tf.grads(f)([
        tf.tensor(xv, [2, 9, 7, 3]),
        tf.tensor(wv, [3, 3, 3, 8]),
        tf.tensor(bv, [8]),
        tf.tensor(dv, [8, 5]),
        tf.tensor(cv, [5]),
      ]);
    });
  });
});

describe('Identity and same-dtype Cast share the buffer', () => {
  it('a clone keeps its values after the original is disposed, and frees its buffer last', async () => {
    await tf.setBackend('wasm');
    const buffers = tf.engine().backend.numDataIds();
    const x = tf.tensor([1.5, -2, 3], [3]);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
    y.dispose();
    expect(Array.from(z.dataSync())).toEqual([1.5, -2, 3]);
    z.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });

  it('casts between dtypes still convert', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1.7, -2.2, 0, Number.NaN], [4]);
    const i = tf.cast(x, 'int32');
    const b = tf.cast(x, 'bool');
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync()).slice(0, 3)).toEqual([1, -2, 0]);
    expect(Array.from(b.dataSync())).toEqual([1, 1, 0, 1]);
    tf.dispose([x, i, b]);
  });
});

describe('no leaks', () => {
  it('a gradient through every kernel leaves no tensor and no backend buffer behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const w1 = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const w2 = tf.randomNormal([3, 3, 4, 5]) as tf.Tensor4D;
    const d = tf.randomNormal([20, 6]) as tf.Tensor2D;
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => {
      const h1 = tf.maxPool(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')), 2, 2, 'same');
      const h2 = tf.relu(tf.conv2d(h1, c as tf.Tensor4D, 2, 'same'));
      return tf.sum(tf.matMul(tf.reshape(h2, [2, 20]), e as tf.Tensor2D));
    };
    const grads = tf.grads(f);
    tf.dispose(grads([x, w1, w2, d])); // warm-up (kernel setup, caches)
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    const g = grads([x, w1, w2, d]);
    expect(g.map((t) => t.shape)).toEqual([x.shape, w1.shape, w2.shape, d.shape]);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose([x, w1, w2, d]);
  });
});
