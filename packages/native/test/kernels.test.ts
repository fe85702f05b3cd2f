import { beforeEach, describe, expect, it } from 'vitest';
import { nativeKernelStats } from '../src/index.ts';
import { input, nativeVsCpu, probe, required, runOn, skipNative, TestRng, tf } from './helpers.ts';

const TOL = 1e-5;

it('native addon availability', () => {
  if (required) expect(probe.ok, probe.reason).toBe(true);
  else if (!probe.ok) console.warn(`native kernels unavailable: ${probe.reason}`);
});

/** Asserts that `name` ran natively at least once since the last reset. */
function ranNatively(...names: string[]) {
  const s = nativeKernelStats(true);
  for (const n of names) expect(s[n]?.native ?? 0, `${n} ran natively`).toBeGreaterThan(0);
}

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  n: number;
  h: number;
  w: number;
  c: number;
  o: number;
  k: number;
  s: number;
  pad: Pad;
}

function convCases(rng: TestRng, count: number): ConvCase[] {
  const out: ConvCase[] = [
    { n: 1, h: 7, w: 7, c: 1, o: 1, k: 3, s: 1, pad: 'same' },
    { n: 1, h: 6, w: 9, c: 3, o: 5, k: 2, s: 2, pad: 'same' },
    { n: 2, h: 8, w: 8, c: 4, o: 8, k: 3, s: 2, pad: 'valid' },
    {
      n: 3,
      h: 9,
      w: 7,
      c: 5,
      o: 3,
      k: 3,
      s: 1,
      pad: [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0],
      ],
    },
    { n: 2, h: 5, w: 5, c: 16, o: 16, k: 1, s: 1, pad: 'valid' },
  ];
  const pads: Pad[] = [
    'same',
    'valid',
    [
      [0, 0],
      [0, 1],
      [1, 1],
      [0, 0],
    ],
  ];
  while (out.length < count) {
    const k = rng.pick([1, 2, 3, 5]);
    out.push({
      n: rng.int(1, 3),
      h: rng.int(k, 12),
      w: rng.int(k, 12),
      c: rng.pick([1, 2, 3, 8, 17]),
      o: rng.pick([1, 4, 7, 16]),
      k,
      s: rng.int(1, 2),
      pad: rng.pick(pads),
    });
  }
  return out;
}

describe.skipIf(skipNative)('native conv kernels against the cpu reference', () => {
  beforeEach(() => void nativeKernelStats(true));
  const rng = new TestRng(11);
  const cases = convCases(rng, 14);

  it.each(cases)('conv2d forward, fused bias+relu, and both gradients: %o', async (cc) => {
    const r = new TestRng(cc.n * 1000 + cc.h * 100 + cc.c * 10 + cc.k);
    const x = input([cc.n, cc.h, cc.w, cc.c], r.normal(cc.n * cc.h * cc.w * cc.c));
    const w = input([cc.k, cc.k, cc.c, cc.o], r.normal(cc.k * cc.k * cc.c * cc.o));
    const bias = input([cc.o], r.normal(cc.o));
    const conv = (a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, cc.s, cc.pad);
    expect(await nativeVsCpu(conv, [x, w])).toBeLessThanOrEqual(TOL);
    ranNatively('Conv2D');
    const fused = (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) =>
      tf.fused.conv2d({
        x: a as tf.Tensor4D,
        filter: f as tf.Tensor4D,
        strides: cc.s,
        pad: cc.pad,
        bias: b,
        activation: 'relu',
      });
    expect(await nativeVsCpu(fused, [x, w, bias])).toBeLessThanOrEqual(TOL);
    ranNatively('FusedConv2D');
    // Gradients of Σ R ⊙ conv(x, w): R plays the upstream gradient dy.
    const y0 = tf.tidy(() => conv(tf.tensor(x.data, x.shape), tf.tensor(w.data, w.shape)));
    const R = input(y0.shape, r.normal(y0.size));
    y0.dispose();
    const grads = (a: tf.Tensor, f: tf.Tensor, rr: tf.Tensor) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(conv(p, q), rr)))([a, f]);
    expect(await nativeVsCpu(grads, [x, w, R])).toBeLessThanOrEqual(TOL);
    ranNatively('Conv2DBackpropInput', 'Conv2DBackpropFilter');
  });

  it('fused conv with relu through a gradient matches', async () => {
    const r = new TestRng(5);
    const x = input([2, 9, 9, 3], r.normal(2 * 81 * 3));
    const w = input([3, 3, 3, 6], r.normal(162));
    const b = input([6], r.normal(6));
    const f = (a: tf.Tensor, k: tf.Tensor, bb: tf.Tensor) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor, s: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.fused.conv2d({
              x: p as tf.Tensor4D,
              filter: q as tf.Tensor4D,
              strides: 1,
              pad: 'same',
              bias: s,
              activation: 'relu',
            }),
          ),
        ),
      )([a, k, bb]);
    expect(await nativeVsCpu(f, [x, w, b])).toBeLessThanOrEqual(TOL);
  });
});

describe.skipIf(skipNative)('native pooling against the cpu reference', () => {
  beforeEach(() => void nativeKernelStats(true));
  const shapes: Array<{ shape: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid' }> = [
    { shape: [1, 6, 6, 1], k: 2, s: 2, pad: 'valid' },
    { shape: [2, 7, 7, 3], k: 2, s: 2, pad: 'same' },
    { shape: [3, 9, 8, 20], k: 3, s: 2, pad: 'same' },
    { shape: [2, 8, 9, 5], k: 3, s: 1, pad: 'valid' },
    { shape: [1, 5, 5, 33], k: 3, s: 1, pad: 'same' },
    { shape: [2, 7, 9, 4], k: 2, s: 2, pad: 'valid' }, // non-overlapping windows, uncovered last row/col
    { shape: [2, 8, 7, 6], k: 3, s: 3, pad: 'same' },
  ];

  it.each(shapes)('max pool forward and gradient with ties and all-zero windows: %o', async ({ shape, k, s, pad }) => {
    const r = new TestRng(shape[3] * 7 + k);
    const n = shape.reduce((a, b) => a * b, 1);
    const ties = r.ties(n, 3);
    for (let i = 0; i < n; i += 5) ties[i] = 0; // plenty of zeros; with k≤3 many windows are all zero
    const zeros = new Float32Array(n);
    const negative = r.ties(n, 2).map((v) => -v - 1); // all-negative windows must still pick a max
    const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, k, s, pad);
    for (const data of [ties, zeros, negative, r.normal(n)]) {
      const x = input(shape, data);
      expect(await nativeVsCpu(pool, [x])).toBeLessThanOrEqual(TOL);
      const y0 = tf.tidy(() => pool(tf.tensor(data, shape)));
      const R = input(y0.shape, r.normal(y0.size));
      y0.dispose();
      // Through the tape (the forward records window positions) ...
      const grad = (a: tf.Tensor, rr: tf.Tensor) => tf.grad((p: tf.Tensor) => tf.sum(tf.mul(pool(p), rr)))(a);
      expect(await nativeVsCpu(grad, [x, R])).toBeLessThanOrEqual(TOL);
      // ... and the kernel on its own (positions searched again).
      const direct = (a: tf.Tensor, rr: tf.Tensor) =>
        tf
          .engine()
          .runKernel(
            'MaxPoolGrad',
            { dy: rr, input: a, output: pool(a) },
            { filterSize: k, strides: s, pad },
          ) as tf.Tensor;
      expect(await nativeVsCpu(direct, [x, R])).toBeLessThanOrEqual(TOL);
    }
    ranNatively('MaxPool', 'MaxPoolGrad');
  });

  it('max pool gradient routes each window to its first maximum (hand-computed)', async () => {
    // 1×2×4×1 input, 2×2 windows stride 2: window 1 = [1, 1 | 0, 1] → first max at (0,0);
    // window 2 = [0, 0 | 0, 0] → first position (0,2). dy = [3, 5].
    const x = input([1, 2, 4, 1], Float32Array.from([1, 1, 0, 0, 0, 1, 0, 0]));
    const dy = input([1, 1, 2, 1], Float32Array.from([3, 5]));
    await tf.setBackend('native');
    const dx = tf.tidy(() =>
      tf.grad((p: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(p as tf.Tensor4D, 2, 2, 'valid'), tf.tensor(dy.data, dy.shape))),
      )(tf.tensor(x.data, x.shape)),
    );
    expect(Array.from(dx.dataSync())).toEqual([3, 0, 5, 0, 0, 0, 0, 0]);
    dx.dispose();
    ranNatively('MaxPoolGrad');
  });

  it.each(shapes)('average pool forward and gradient: %o', async ({ shape, k, s, pad }) => {
    const r = new TestRng(shape[1] * 3 + s);
    const n = shape.reduce((a, b) => a * b, 1);
    const x = input(shape, r.normal(n));
    const pool = (a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, k, s, pad);
    expect(await nativeVsCpu(pool, [x])).toBeLessThanOrEqual(TOL);
    const y0 = tf.tidy(() => pool(tf.tensor(x.data, shape)));
    const R = input(y0.shape, r.normal(y0.size));
    y0.dispose();
    const grad = (a: tf.Tensor, rr: tf.Tensor) => tf.grad((p: tf.Tensor) => tf.sum(tf.mul(pool(p), rr)))(a);
    expect(await nativeVsCpu(grad, [x, R])).toBeLessThanOrEqual(TOL);
    ranNatively('AvgPool', 'AvgPoolGrad');
  });
});

describe.skipIf(skipNative)('native matmul against the cpu reference', () => {
  beforeEach(() => void nativeKernelStats(true));
  const cases = [
    { a: [1, 1], b: [1, 1], tA: false, tB: false },
    { a: [7, 13], b: [13, 5], tA: false, tB: false },
    { a: [13, 7], b: [13, 5], tA: true, tB: false },
    { a: [7, 13], b: [5, 13], tA: false, tB: true },
    { a: [13, 7], b: [5, 13], tA: true, tB: true },
    { a: [3, 4, 6], b: [3, 6, 2], tA: false, tB: false },
    { a: [1, 4, 6], b: [3, 6, 2], tA: false, tB: false },
    { a: [3, 6, 4], b: [1, 2, 6], tA: true, tB: true },
    { a: [128, 300], b: [300, 64], tA: false, tB: false },
  ];
  it.each(cases)('batchMatMul, fused bias+relu and gradients: %o', async ({ a, b, tA, tB }) => {
    const r = new TestRng(a[0] * 31 + b[b.length - 1]);
    const sz = (s: number[]) => s.reduce((p, q) => p * q, 1);
    const A = input(a, r.normal(sz(a)));
    const B = input(b, r.normal(sz(b)));
    const N = tB ? b[b.length - 2] : b[b.length - 1];
    const bias = input([N], r.normal(N));
    const mm = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, tA, tB);
    expect(await nativeVsCpu(mm, [A, B])).toBeLessThanOrEqual(TOL);
    ranNatively('BatchMatMul');
    const fused = (p: tf.Tensor, q: tf.Tensor, c: tf.Tensor) =>
      tf.fused.matMul({ a: p, b: q, transposeA: tA, transposeB: tB, bias: c, activation: 'relu' });
    expect(await nativeVsCpu(fused, [A, B, bias])).toBeLessThanOrEqual(TOL);
    ranNatively('_FusedMatMul');
    // tfjs-core's BatchMatMul gradient does not reduce a broadcast batch (it fails on cpu too).
    if (a.length === 3 && a[0] !== b[0]) return;
    const grads = (p: tf.Tensor, q: tf.Tensor, c: tf.Tensor) =>
      tf.grads((u: tf.Tensor, v: tf.Tensor, w: tf.Tensor) =>
        tf.sum(tf.square(tf.fused.matMul({ a: u, b: v, transposeA: tA, transposeB: tB, bias: w, activation: 'relu' }))),
      )([p, q, c]);
    expect(await nativeVsCpu(grads, [A, B, bias])).toBeLessThanOrEqual(TOL);
  });
});

describe.skipIf(skipNative)('native elementwise kernels against the cpu reference', () => {
  beforeEach(() => void nativeKernelStats(true));
  const binaryCases: Array<[number[], number[]]> = [
    [
      [64, 130],
      [64, 130],
    ],
    [[64, 130], [130]],
    [[130], [64, 130]],
    [
      [2, 32, 9, 16],
      [1, 9, 16],
    ],
    [[4, 30, 40], []],
    [[], [4, 30, 40]],
    [
      [4, 9, 9, 32],
      [1, 1, 1, 32],
    ],
  ];
  const ops = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div } as const;
  it.each(binaryCases)('add/sub/mul/div with broadcast %o ⊕ %o', async (sa, sb) => {
    const r = new TestRng(sa.length * 10 + sb.length);
    const sz = (s: number[]) => s.reduce((p, q) => p * q, 1);
    const a = input(sa, r.normal(sz(sa)));
    const b = input(
      sb,
      r.normal(sz(sb)).map((v) => v + Math.sign(v) * 0.5),
    ); // keep divisors away from 0
    for (const op of Object.values(ops)) expect(await nativeVsCpu((p, q) => op(p, q), [a, b])).toBeLessThanOrEqual(TOL);
    ranNatively('Add', 'Sub', 'Multiply', 'RealDiv');
    // Gradients reduce the broadcast side with Sum (the bias-gradient path).
    const g = (p: tf.Tensor, q: tf.Tensor) =>
      tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.square(tf.add(tf.mul(u, v), v))))([p, q]);
    expect(await nativeVsCpu(g, [a, b])).toBeLessThanOrEqual(TOL);
  });

  it('broadcasts it does not cover fall back to JS with identical results', async () => {
    const r = new TestRng(3);
    const a = input([64, 1], r.normal(64));
    const b = input([1, 128], r.normal(128));
    expect(await nativeVsCpu((p, q) => tf.add(p, q), [a, b])).toBeLessThanOrEqual(TOL);
    const s = nativeKernelStats(true);
    expect(s.Add.native).toBe(0);
    expect(s.Add.fallback).toBeGreaterThan(0);
  });

  it('relu, step, exp, log, neg, sqrt, square and the relu gradient (NaN passes through)', async () => {
    const r = new TestRng(9);
    const data = r.normal(5000);
    data[0] = NaN;
    data[1] = 0;
    data[2] = -0;
    const x = input([50, 100], data);
    expect(await nativeVsCpu((p) => tf.relu(p), [x])).toBeLessThanOrEqual(TOL);
    expect(await nativeVsCpu((p) => tf.step(p, 0.25), [x])).toBeLessThanOrEqual(TOL);
    expect(await nativeVsCpu((p) => tf.exp(p), [x])).toBeLessThanOrEqual(TOL);
    expect(await nativeVsCpu((p) => tf.neg(p), [x])).toBeLessThanOrEqual(TOL);
    expect(await nativeVsCpu((p) => tf.square(p), [x])).toBeLessThanOrEqual(TOL);
    // negative inputs give NaN on both
    expect(await nativeVsCpu((p) => tf.sqrt(p), [x])).toBeLessThanOrEqual(TOL);
    const pos = input(
      [50, 100],
      data.map((v) => Math.abs(v) + 0.01),
    );
    expect(await nativeVsCpu((p) => tf.log(p), [pos])).toBeLessThanOrEqual(TOL);
    ranNatively('Relu', 'Step', 'Exp', 'Neg', 'Log', 'Sqrt', 'Square');
    const finite = input([50, 100], r.normal(5000));
    expect(
      await nativeVsCpu((p) => tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.relu(u), u)))(p), [finite]),
    ).toBeLessThanOrEqual(TOL);
  });

  it('clipByValue bit for bit against the cpu kernel (bounds not float32, values on and beside them, NaN, ±0)', async () => {
    const r = new TestRng(21);
    const n = 70_000; // above the OpenMP threshold
    const specials = [0, -0, 1, 0.1, Math.fround(0.1), -0.3, Math.fround(-0.3), Number.NaN, Infinity, -Infinity];
    const data = Float32Array.from({ length: n }, () => (r.next() < 0.3 ? r.pick(specials) : 2 * r.next() - 0.5));
    const x = input([n], data);
    for (const [lo, hi] of [
      [0, 1],
      [-0.3, 0.1],
      [0.25, 0.75],
    ]) {
      const fn = (p: tf.Tensor) => tf.clipByValue(p, lo, hi);
      const nat = (await runOn('native', fn, [x]))[0];
      ranNatively('ClipByValue');
      const ref = (await runOn('cpu', fn, [x]))[0];
      const a = new Uint32Array(nat.buffer);
      const b = new Uint32Array(ref.buffer);
      expect(
        a.findIndex((v, i) => v !== b[i]),
        `first difference, [${lo}, ${hi}]`,
      ).toBe(-1);
    }
  });

  it.each([
    { shape: [4, 8, 8, 32], axis: [0, 1, 2], keepDims: false },
    { shape: [4, 8, 8, 32], axis: [0, 1, 2], keepDims: true },
    { shape: [64, 130], axis: -1, keepDims: false },
    { shape: [64, 130], axis: [1], keepDims: true },
    { shape: [64, 130], axis: [0, 1], keepDims: false },
    { shape: [16, 20, 30], axis: [1, 2], keepDims: false },
    { shape: [16, 20, 30], axis: [1], keepDims: false },
    { shape: [16, 20, 30], axis: [0, 2], keepDims: false },
    { shape: [8, 7, 9, 13], axis: [1, 2], keepDims: true },
    { shape: [6, 3, 5, 7, 11], axis: [1, 2, 3], keepDims: false },
  ])('sum and mean over axes %o', async ({ shape, axis, keepDims }) => {
    const r = new TestRng(shape.length + shape[0]);
    const x = input(shape, r.normal(shape.reduce((p, q) => p * q, 1)));
    expect(await nativeVsCpu((p) => tf.sum(p, axis, keepDims), [x])).toBeLessThanOrEqual(TOL);
    expect(await nativeVsCpu((p) => tf.mean(p, axis, keepDims), [x])).toBeLessThanOrEqual(TOL);
    const s = nativeKernelStats(true);
    // a contiguous block of axes (leading, trailing or in the middle) is native; [0, 2] is not contiguous
    const contiguous = !(Array.isArray(axis) && axis.length === 2 && axis[1] - axis[0] > 1);
    for (const k of ['Sum', 'Mean']) expect(contiguous ? s[k].native : s[k].fallback, k).toBeGreaterThan(0);
  });

  it.each([
    { full: [4, 6, 5, 8], small: [4, 1, 1, 8] },
    { full: [4, 6, 5, 8], small: [4, 1, 1, 1] },
    { full: [3, 7, 9, 5], small: [3, 7, 1, 5] },
    { full: [64, 8, 8, 16], small: [64, 1, 1, 16] },
  ])(
    'add/sub/mul/div with a middle broadcast $small against $full, both orders, and gradients',
    async ({ full, small }) => {
      const r = new TestRng(full[0] + small[1]);
      const sz = (s: number[]) => s.reduce((p, q) => p * q, 1);
      const a = input(full, r.normal(sz(full)));
      const b = input(
        small,
        r.normal(sz(small)).map((v) => v + Math.sign(v) * 0.5),
      );
      for (const op of [tf.add, tf.sub, tf.mul, tf.div]) {
        expect(await nativeVsCpu((p, q) => op(p, q), [a, b])).toBeLessThanOrEqual(TOL);
        expect(await nativeVsCpu((p, q) => op(q, p), [a, b])).toBeLessThanOrEqual(TOL);
      }
      if (sz(full) >= 4096) ranNatively('Add', 'Sub', 'Multiply', 'RealDiv');
      const g = (p: tf.Tensor, q: tf.Tensor) =>
        tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.square(tf.add(tf.mul(u, v), v))))([p, q]);
      expect(await nativeVsCpu(g, [a, b])).toBeLessThanOrEqual(TOL);
    },
  );

  it('native kernels leak no tensors', async () => {
    await tf.setBackend('native');
    const r = new TestRng(1);
    const x = tf.tensor(r.normal(2 * 8 * 8 * 4), [2, 8, 8, 4]) as tf.Tensor4D;
    const w = tf.tensor(r.normal(3 * 3 * 4 * 8), [3, 3, 4, 8]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const [gx, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => {
      const y = tf.maxPool(
        tf.relu(tf.add(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 'same'), 0.1)) as tf.Tensor4D,
        2,
        2,
        'same',
      );
      return tf.sum(tf.mul(y, y));
    })([x, w]);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([gx, gw, x, w]);
  });
});
