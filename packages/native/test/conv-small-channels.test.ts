import { beforeEach, describe, expect, it } from 'vitest';
import { nativeKernelStats } from '../src/index.ts';
import { input, nativeVsCpu, skipNative, TestRng, tf } from './helpers.ts';

/**
 * The convolutions of a width-4 ResNet-8 on 8×8×3 inputs (channels 4, 8, 16; stride-2 3×3 convs and stride-2 1×1
 * shortcuts) and strided 1×1 convs over fewer channels than one SIMD block: values, input and filter gradients
 * against the cpu reference. Each case runs several times on fresh copies, since a kernel that sums memory
 * outside its data gives a different wrong answer from run to run.
 */
const TOL = 1e-5;
const REPEATS = 5;

interface Case {
  h: number;
  c: number;
  o: number;
  k: number;
  s: number;
}

const cases: Case[] = [
  { h: 8, c: 3, o: 4, k: 3, s: 1 },
  { h: 8, c: 4, o: 4, k: 3, s: 1 },
  { h: 8, c: 4, o: 8, k: 3, s: 2 },
  { h: 8, c: 4, o: 8, k: 1, s: 2 },
  { h: 4, c: 8, o: 8, k: 3, s: 1 },
  { h: 4, c: 8, o: 16, k: 3, s: 2 },
  { h: 4, c: 8, o: 16, k: 1, s: 2 },
  { h: 2, c: 16, o: 16, k: 3, s: 1 },
  { h: 8, c: 3, o: 8, k: 1, s: 2 },
  { h: 8, c: 5, o: 8, k: 1, s: 2 },
  { h: 8, c: 4, o: 4, k: 1, s: 2 },
  { h: 8, c: 12, o: 16, k: 1, s: 2 },
];

describe.skipIf(skipNative)('convolutions with few channels (ResNet-8, width 4) against the cpu reference', () => {
  beforeEach(() => void nativeKernelStats(true));

  it.each(cases)('conv2d, its input and filter gradients, repeated: %o', async (cc) => {
    const n = 9;
    const r = new TestRng(cc.h * 1000 + cc.c * 100 + cc.o * 10 + cc.k + cc.s);
    const x = input([n, cc.h, cc.h, cc.c], r.normal(n * cc.h * cc.h * cc.c));
    const w = input([cc.k, cc.k, cc.c, cc.o], r.normal(cc.k * cc.k * cc.c * cc.o));
    const oh = Math.ceil(cc.h / cc.s);
    const dy = input([n, oh, oh, cc.o], r.normal(n * oh * oh * cc.o));
    const conv = (a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, cc.s, 'same');
    // the gradients of Σ dy ⊙ conv(x, w) with respect to x and w
    const grads = (a: tf.Tensor, f: tf.Tensor, d: tf.Tensor) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(conv(p, q), d)))([a, f]);
    for (let i = 0; i < REPEATS; i++) {
      expect(await nativeVsCpu(conv, [x, w]), `values, run ${i}`).toBeLessThanOrEqual(TOL);
      expect(await nativeVsCpu(grads, [x, w, dy]), `gradients, run ${i}`).toBeLessThanOrEqual(TOL);
    }
    const stats = nativeKernelStats(true);
    for (const k of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'])
      expect(stats[k]?.native ?? 0, `${k} ran natively`).toBeGreaterThan(0);
  });
});
