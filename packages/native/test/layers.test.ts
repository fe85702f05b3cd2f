import { describe, expect, it } from 'vitest';
import { conv2dBiasAct, denseBiasAct, fusedLayersActive, nativeKernelStats } from '../src/index.ts';
import { relErr, skipNative, TestRng, tf } from './helpers.ts';

const TOL = 1e-5;

interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  o: number;
  k: number;
  s: number;
  pad: 'same' | 'valid';
  relu: boolean;
}

const CASES: Case[] = [
  { n: 1, h: 7, w: 7, c: 1, o: 3, k: 3, s: 1, pad: 'same', relu: true },
  { n: 2, h: 9, w: 6, c: 3, o: 5, k: 3, s: 2, pad: 'valid', relu: true },
  { n: 3, h: 8, w: 8, c: 4, o: 8, k: 1, s: 1, pad: 'same', relu: false },
  { n: 2, h: 11, w: 13, c: 5, o: 7, k: 2, s: 2, pad: 'same', relu: true },
  // large enough (≥ 4096 elements per output) for the native elementwise paths
  { n: 8, h: 14, w: 14, c: 8, o: 16, k: 3, s: 1, pad: 'same', relu: true },
];

/**
 * The loss Σ y ⊙ r for a fixed random r, so ∂loss/∂y = r is dense and known; returns y and the gradients of
 * the loss with respect to x, the filter and the bias, as computed on the current backend by `layer`.
 */
function valueAndGrads(
  layer: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  w: tf.Tensor,
  b: tf.Tensor,
  r: tf.Tensor,
): Float32Array[] {
  return tf.tidy(() => {
    const y = layer(x, w, b);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layer(xx, ww, bb), r)))([
      x,
      w,
      b,
    ]);
    return [y, ...g].map((t) => Float32Array.from(t.dataSync()));
  });
}

async function compare(
  c: Case,
  rng: TestRng,
  fused: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  reference: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  shapes: { x: number[]; w: number[]; b: number[] },
) {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const xs = rng.normal(size(shapes.x));
  const ws = rng.normal(size(shapes.w)).map((v) => v * 0.5);
  const bs = rng.normal(size(shapes.b)).map((v) => v * 0.3);
  const run = async (backend: string, layer: typeof fused) => {
    await tf.setBackend(backend);
    const x = tf.tensor(xs, shapes.x);
    const w = tf.tensor(ws, shapes.w);
    const b = tf.tensor(bs, shapes.b);
    const yShape = tf.tidy(() => layer(x, w, b).shape);
    const r = tf.tensor(new TestRng(size(yShape)).normal(size(yShape)), yShape);
    const out = valueAndGrads(layer, x, w, b, r);
    tf.dispose([x, w, b, r]);
    return out;
  };
  const nat = await run('native', fused);
  const ref = await run('cpu', reference);
  const names = ['y', 'dx', 'dw', 'db'];
  for (const [i, v] of nat.entries())
    expect(relErr(v, ref[i]), `${JSON.stringify(c)} ${names[i]}`).toBeLessThanOrEqual(TOL);
  // relu really clipped something (so the mask is exercised) and the bias gradient is not trivially zero
  if (c.relu) expect(ref[0].some((v) => v === 0)).toBe(true);
  expect(ref[3].some((v) => v !== 0)).toBe(true);
}

describe.skipIf(skipNative)('fused layers with a native backward', () => {
  it('are active on native only', async () => {
    await tf.setBackend('native');
    expect(fusedLayersActive()).toBe(true);
    await tf.setBackend('cpu');
    expect(fusedLayersActive()).toBe(false);
  });

  it('conv + bias + act: value and gradients (x, filter, bias) equal tfjs autodiff of the unfused ops on cpu', async () => {
    const rng = new TestRng(5);
    nativeKernelStats(true);
    for (const c of CASES) {
      await compare(
        c,
        rng,
        (x, w, b) => conv2dBiasAct(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, c.s, c.pad, c.relu),
        (x, w, b) => {
          const z = tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad), b);
          return c.relu ? tf.relu(z) : z;
        },
        { x: [c.n, c.h, c.w, c.c], w: [c.k, c.k, c.c, c.o], b: [c.o] },
      );
    }
    const s = nativeKernelStats(true);
    expect(s.ArcalConv2DBiasAct?.native ?? 0).toBeGreaterThan(0);
    expect(s.ArcalBiasActGrad?.native ?? 0).toBeGreaterThan(0);
    expect(s.Conv2DBackpropFilter?.native ?? 0).toBeGreaterThan(0);
  });

  it('dense + bias + act: value and gradients equal tfjs autodiff on cpu', async () => {
    const rng = new TestRng(9);
    for (const [n, k, m, relu] of [
      [1, 5, 3, true],
      [7, 33, 10, false],
      [64, 96, 128, true],
    ] as const) {
      await compare(
        { n, h: k, w: m, c: 0, o: 0, k: 0, s: 0, pad: 'same', relu },
        rng,
        (x, w, b) => denseBiasAct(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, relu),
        (x, w, b) => {
          const z = tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
          return relu ? tf.relu(z) : z;
        },
        { x: [n, k], w: [k, m], b: [m] },
      );
    }
  });

  it('conv without bias: value and gradients (x, filter) equal tfjs autodiff on cpu', async () => {
    const rng = new TestRng(11);
    for (const c of CASES) {
      const xs = rng.normal(c.n * c.h * c.w * c.c);
      const ws = rng.normal(c.k * c.k * c.c * c.o).map((v) => v * 0.5);
      const run = async (backend: string, layer: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor) => {
        await tf.setBackend(backend);
        const x = tf.tensor(xs, [c.n, c.h, c.w, c.c]);
        const w = tf.tensor(ws, [c.k, c.k, c.c, c.o]);
        const out = tf.tidy(() => {
          const y = layer(x, w);
          const r = tf.tensor(new TestRng(y.size).normal(y.size), y.shape);
          const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(layer(xx, ww), r)))([x, w]);
          return [y, ...g].map((t) => Float32Array.from(t.dataSync()));
        });
        tf.dispose([x, w]);
        return out;
      };
      const nat = await run('native', (x, w) =>
        conv2dBiasAct(x as tf.Tensor4D, w as tf.Tensor4D, undefined, c.s, c.pad, c.relu),
      );
      const ref = await run('cpu', (x, w) => {
        const z = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad);
        return c.relu ? tf.relu(z) : z;
      });
      for (const [i, v] of nat.entries())
        expect(relErr(v, ref[i]), `${JSON.stringify(c)} ${['y', 'dx', 'dw'][i]}`).toBeLessThanOrEqual(TOL);
    }
  });

  it('an input gradient computes no filter gradient, and nothing leaks', async () => {
    await tf.setBackend('native');
    const rng = new TestRng(3);
    const x = tf.tensor(rng.normal(4 * 10 * 10 * 2), [4, 10, 10, 2]) as tf.Tensor4D;
    const w = tf.variable(tf.tensor(rng.normal(3 * 3 * 2 * 6), [3, 3, 2, 6]) as tf.Tensor4D);
    const b = tf.variable(tf.zeros([6]) as tf.Tensor1D);
    const before = tf.memory().numTensors;
    nativeKernelStats(true);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(conv2dBiasAct(xx as tf.Tensor4D, w, b, 1, 'same', true)))(x);
    const s = nativeKernelStats(true);
    expect(s.Conv2DBackpropInput?.native ?? 0).toBe(1);
    expect(s.Conv2DBackpropFilter).toBeUndefined();
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // the same without bias and without relu: no filter gradient, no mask or bias pass either
    const g2 = tf.grad((xx: tf.Tensor) => tf.sum(conv2dBiasAct(xx as tf.Tensor4D, w, undefined, 1, 'same', false)))(x);
    const s2 = nativeKernelStats(true);
    expect(s2.Conv2DBackpropInput?.native ?? 0).toBe(1);
    expect(s2.Conv2DBackpropFilter).toBeUndefined();
    expect(s2.ArcalBiasActGrad).toBeUndefined();
    g2.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b]);
  });
});
