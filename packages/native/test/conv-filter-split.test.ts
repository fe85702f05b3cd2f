import { afterAll, describe, expect, it } from 'vitest';
import { registerNativeBackend } from '../src/index.ts';
import { input, nativeVsCpu, runOn, skipNative, TestRng, tf } from './helpers.ts';

/**
 * The filter gradient splits the batch into one share per thread and adds the shares' gradients in thread order.
 * Checked against the cpu backend's autodiff for batch sizes below, at and above the thread count (a share of
 * one image, unequal shares, one thread only) and for the geometries that take different oneDNN kernels (3×3
 * stride 1 and 2, strided 1×1 over fewer channels than a SIMD block); and repeatable bit for bit.
 */
const TOL = 1e-5;

const geoms = [
  { h: 8, c: 16, o: 16, k: 3, s: 1 },
  { h: 8, c: 16, o: 32, k: 3, s: 2 },
  { h: 8, c: 5, o: 8, k: 1, s: 2 },
  { h: 7, c: 3, o: 16, k: 3, s: 1 },
];

function inputs(g: (typeof geoms)[number], n: number, seed: number) {
  const r = new TestRng(seed);
  const oh = Math.ceil(g.h / g.s);
  const x = input([n, g.h, g.h, g.c], r.normal(n * g.h * g.h * g.c));
  const w = input([g.k, g.k, g.c, g.o], r.normal(g.k * g.k * g.c * g.o));
  const dy = input([n, oh, oh, g.o], r.normal(n * oh * oh * g.o));
  return [x, w, dy];
}

describe.skipIf(skipNative)('filter gradient split over the batch, against the cpu reference', () => {
  afterAll(() => void registerNativeBackend(2));

  for (const threads of [1, 2]) {
    it.each(geoms.flatMap((g) => [1, 2, 3, 5].map((n) => ({ ...g, n }))))(
      `${threads} thread(s): %o`,
      async ({ n, ...g }) => {
        registerNativeBackend(threads);
        const xs = inputs(g, n, 7 * n + g.c);
        // the gradient of Σ dy ⊙ conv(x, w) with respect to w alone
        const dw = (a: tf.Tensor, f: tf.Tensor, d: tf.Tensor) =>
          tf.grad((q: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, q as tf.Tensor4D, g.s, 'same'), d)))(f);
        expect(await nativeVsCpu(dw, xs)).toBeLessThanOrEqual(TOL);
        const [first] = await runOn('native', dw, xs);
        const [again] = await runOn('native', dw, xs);
        expect(Buffer.from(again.buffer).equals(Buffer.from(first.buffer))).toBe(true);
      },
    );
  }
});
