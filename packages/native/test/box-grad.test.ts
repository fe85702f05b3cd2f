import { describe, expect, it } from 'vitest';
import {
  BOX_GRAD,
  boxFeasibleGradient,
  boxGradActive,
  boxGradJs,
  nativeBackend,
  nativeKernelStats,
} from '../src/index.ts';
import { skipNative, TestRng, tf } from './helpers.ts';

const TOL = 1e-6;

/** The selection as tf ops, as the FMN attack wrote it before the kernel (run on the cpu backend: the reference). */
const formula = (x: tf.Tensor, g: tf.Tensor, tol: number) =>
  tf.where(
    tf.logicalOr(
      tf.logicalAnd(tf.lessEqual(x, tol), tf.greater(g, 0)),
      tf.logicalAnd(tf.greaterEqual(x, 1 - tol), tf.less(g, 0)),
    ),
    tf.zerosLike(g),
    g,
  );

/**
 * Pixels: about half uniform in [0, 1], the rest drawn from the bounds, values within and just beyond tol of them
 * (including the float32 neighbours of tol and 1 − tol), a little outside the box, ±0 and NaN. Gradients: normal,
 * ±0, NaN and ±∞.
 */
function data(n: number, tol: number, seed: number) {
  const r = new TestRng(seed);
  const lo = Math.fround(tol);
  const hi = Math.fround(1 - tol);
  const up = (v: number) => v + 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
  const dn = (v: number) => v - 2 ** (Math.floor(Math.log2(Math.abs(v))) - 24);
  const special = [0, -0, 1, lo, up(lo), dn(lo), hi, up(hi), dn(hi), tol / 2, 1 - tol / 2, 2 * tol, 1 - 2 * tol];
  special.push(-1e-3, 1 + 1e-3, Number.NaN);
  const x = Float32Array.from({ length: n }, () => (r.next() < 0.5 ? r.next() : r.pick(special)));
  const gSpecial = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  const normal = r.normal(n);
  const g = Float32Array.from(normal, (v) => (r.next() < 0.15 ? r.pick(gSpecial) : v));
  return { x, g };
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function firstDifference(a: Float32Array, b: Float32Array): number {
  const ua = bits(a);
  const ub = bits(b);
  if (ua.length !== ub.length) return -2;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

function apply(
  op: (x: tf.Tensor, g: tf.Tensor, tol: number) => tf.Tensor,
  shape: number[],
  d: ReturnType<typeof data>,
  tol: number,
): Float32Array {
  return tf.tidy(() => Float32Array.from(op(tf.tensor(d.x, shape), tf.tensor(d.g, shape), tol).dataSync()));
}

const SHAPES = [[7], [3, 5, 5, 3], [64, 32, 32, 3]];

describe.skipIf(skipNative)('box-feasible gradient kernel against the tf-op formula on the cpu backend', () => {
  for (const [i, shape] of SHAPES.entries())
    for (const tol of [TOL, 0.25])
      it(`[${shape}], tol ${tol}: bit for bit`, async () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const d = data(n, tol, 40 + i);
        await tf.setBackend('cpu');
        const ref = apply(formula, shape, d, tol);
        // the data exercise every branch (blocked at each bound, passed at each bound, NaN and −0 passed),
        // except the 7-element case, too small to hold them all
        const xs = d.x;
        if (n > 7) {
          expect(ref.some((v, j) => v === 0 && d.g[j] > 0 && xs[j] <= tol)).toBe(true);
          expect(ref.some((v, j) => v === 0 && d.g[j] < 0 && xs[j] >= 1 - tol)).toBe(true);
          expect(ref.some((v, j) => v === d.g[j] && d.g[j] < 0 && xs[j] <= Math.fround(tol))).toBe(true);
          expect(ref.some((v, j) => Number.isNaN(v) && Number.isNaN(xs[j]) === false)).toBe(true);
          expect(ref.some((v, j) => Object.is(v, -0) && (xs[j] === 0 || xs[j] === 1))).toBe(true);
        }
        await tf.setBackend('native');
        expect(boxGradActive()).toBe(true);
        nativeKernelStats(true);
        const nat = apply(boxFeasibleGradient, shape, d, tol);
        expect(nativeKernelStats(true)[BOX_GRAD]).toEqual({ native: 1, fallback: 0 });
        expect(firstDifference(nat, ref)).toBe(-1);
        // the JavaScript fallback, and the op on the cpu backend (the formula itself)
        const js = new Float32Array(n);
        boxGradJs.boxFeasibleGradient(d.x, d.g, js, Math.fround(tol), Math.fround(1 - tol));
        expect(firstDifference(js, ref)).toBe(-1);
        await tf.setBackend('cpu');
        expect(boxGradActive()).toBe(false);
        expect(firstDifference(apply(boxFeasibleGradient, shape, d, tol), ref)).toBe(-1);
      });

  it('falls back to the formula for shapes the kernel does not take (broadcast x)', async () => {
    const d = data(4 * 6, TOL, 9);
    const x = d.x.subarray(0, 6);
    await tf.setBackend('cpu');
    const ref = tf.tidy(() => Float32Array.from(formula(tf.tensor(x, [6]), tf.tensor(d.g, [4, 6]), TOL).dataSync()));
    await tf.setBackend('native');
    nativeKernelStats(true);
    const nat = tf.tidy(() =>
      Float32Array.from(boxFeasibleGradient(tf.tensor(x, [6]), tf.tensor(d.g, [4, 6]), TOL).dataSync()),
    );
    expect(nativeKernelStats(true)[BOX_GRAD]).toBeUndefined();
    expect(firstDifference(nat, ref)).toBe(-1);
  });

  it('leaks no tensors, no pooled buffers and no resident memory over 500 calls', { timeout: 60_000 }, async () => {
    await tf.setBackend('native');
    const shape = [64, 32, 32, 3];
    const d = data(
      shape.reduce((a, b) => a * b, 1),
      TOL,
      3,
    );
    const x = tf.tensor(d.x, shape);
    const g = tf.tensor(d.g, shape);
    const call = () => {
      const out = boxFeasibleGradient(x, g, TOL);
      const s = tf.sum(out);
      out.dispose();
      s.dispose();
    };
    // the loops yield every 25 calls: on a loaded machine 550 calls in one go blocked the event loop for seconds
    const calls = async (count: number) => {
      for (let i = 0; i < count; i++) {
        call();
        if (i % 25 === 24) await new Promise((r) => setImmediate(r));
      }
    };
    await calls(50);
    const mem0 = tf.memory();
    const rss0 = process.memoryUsage().rss;
    const alloc0 = nativeBackend()!.pool.stats().allocated;
    await calls(500);
    const mem1 = tf.memory();
    expect(mem1.numTensors).toBe(mem0.numTensors);
    expect(mem1.numBytes).toBe(mem0.numBytes);
    // 500 leaked outputs would be 500 × 786 KB
    expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 1024 * 1024);
    expect(nativeBackend()!.pool.stats().allocated - alloc0).toBeLessThan(10);
    tf.dispose([x, g]);
  });
});
