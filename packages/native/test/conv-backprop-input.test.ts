import { beforeEach, describe, expect, it } from 'vitest';
import { nativeKernelStats } from '../src/index.ts';
import { input, nativeVsCpu, skipNative, TestRng, tf } from './helpers.ts';

/**
 * Conv2DBackpropInput of stride-1 convolutions runs as a forward convolution of dy with the flipped, channel-swapped
 * filter (conv.cc, transposedGeom); strided ones and pads past K − 1 keep oneDNN's backward-data primitive. Each
 * geometry's input gradient against tfjs's cpu kernel: the residual nets' channel counts (where oneDNN takes its
 * brgemm kernels), even and odd kernels, asymmetric 'same' pads of even kernels, explicit pads up to and past K − 1.
 */
const TOL = 1e-5;

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  o: number;
  k: number;
  s: number;
  pad: Pad;
}

const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];
const cases: Case[] = [
  { n: 2, h: 8, w: 8, c: 16, o: 16, k: 3, s: 1, pad: 'same' },
  { n: 2, h: 4, w: 4, c: 64, o: 64, k: 3, s: 1, pad: 'same' },
  { n: 1, h: 6, w: 5, c: 32, o: 48, k: 3, s: 1, pad: 'valid' },
  { n: 2, h: 7, w: 9, c: 3, o: 16, k: 3, s: 1, pad: 'same' },
  { n: 2, h: 6, w: 6, c: 16, o: 8, k: 1, s: 1, pad: 'same' },
  { n: 1, h: 7, w: 6, c: 5, o: 16, k: 2, s: 1, pad: 'same' },
  { n: 1, h: 9, w: 9, c: 8, o: 24, k: 5, s: 1, pad: explicit(0, 4, 1, 3) },
  { n: 1, h: 6, w: 6, c: 8, o: 8, k: 3, s: 1, pad: explicit(3, 1, 0, 2) }, // a pad past K − 1: backward-data
  { n: 2, h: 8, w: 8, c: 16, o: 32, k: 3, s: 2, pad: 'same' }, // strided: backward-data
];

describe.skipIf(skipNative)('Conv2DBackpropInput on native against the cpu reference', () => {
  beforeEach(() => void nativeKernelStats(true));

  it.each(cases)('input gradient of Σ R ⊙ conv(x, w): %o', async (cc) => {
    const r = new TestRng(cc.h * 1000 + cc.c * 10 + cc.k);
    const x = input([cc.n, cc.h, cc.w, cc.c], r.normal(cc.n * cc.h * cc.w * cc.c));
    const w = input([cc.k, cc.k, cc.c, cc.o], r.normal(cc.k * cc.k * cc.c * cc.o));
    const conv = (a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, cc.s, cc.pad);
    const y0 = tf.tidy(() => conv(tf.tensor(x.data, x.shape), tf.tensor(w.data, w.shape)));
    const R = input(y0.shape, r.normal(y0.size));
    y0.dispose();
    // R plays the upstream gradient dy; the gradient with respect to x alone asks for no filter gradient
    const dx = (a: tf.Tensor, f: tf.Tensor, rr: tf.Tensor) =>
      tf.grad((p: tf.Tensor) => tf.sum(tf.mul(conv(p, f), rr)))(a);
    expect(await nativeVsCpu(dx, [x, w, R])).toBeLessThanOrEqual(TOL);
    const stats = nativeKernelStats(true);
    expect(stats.Conv2DBackpropInput).toEqual({ native: 1, fallback: 0 });
  });

  it('leaves no tensors behind', async () => {
    const cc = cases[0];
    const r = new TestRng(5);
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(r.normal(cc.n * cc.h * cc.w * cc.c), [cc.n, cc.h, cc.w, cc.c]);
    const w = tf.tensor4d(r.normal(9 * cc.c * cc.o), [3, 3, cc.c, cc.o]);
    for (let i = 0; i < 3; i++)
      tf.dispose(tf.tidy(() => tf.grad((p: tf.Tensor) => tf.sum(tf.conv2d(p as tf.Tensor4D, w, 1, 'same')))(x)));
    tf.dispose([x, w]);
    expect(tf.memory().numTensors).toBe(before);
    expect(nativeKernelStats(true).Conv2DBackpropInput).toEqual({ native: 3, fallback: 0 });
  });
});
