import { describe, expect, it } from 'vitest';
import {
  nativeKernelStats,
  SOFTMAX_XENT,
  SOFTMAX_XENT_GRAD,
  softmaxCrossEntropyRows,
  softmaxXentActive,
  xentJs,
} from '../src/index.ts';
import { relErr, skipNative, TestRng, tf } from './helpers.ts';

const TOL = 1e-5;

/** The loss as tf ops: what arcal computed before the kernel, and what tfjs's cpu autodiff differentiates. */
const formula = (z: tf.Tensor, t: tf.Tensor) => tf.neg(tf.sum(tf.mul(t, tf.logSoftmax(z)), 1));

type Targets = 'one-hot' | 'soft' | 'unnormalised';

interface Case {
  rows: number;
  cols: number;
  /** logits uniform in [−scale, scale] */
  scale: number;
  targets: Targets;
}

const CASES: Case[] = [
  { rows: 64, cols: 10, scale: 3, targets: 'one-hot' },
  { rows: 64, cols: 10, scale: 3, targets: 'soft' },
  { rows: 5, cols: 7, scale: 80, targets: 'one-hot' },
  { rows: 33, cols: 10, scale: 80, targets: 'soft' },
  { rows: 9, cols: 4, scale: 20, targets: 'unnormalised' },
  { rows: 3, cols: 1, scale: 5, targets: 'soft' },
  // large enough for the kernels' OpenMP loop (rows × cols ≥ 2^15)
  { rows: 4000, cols: 10, scale: 10, targets: 'soft' },
];

function data(c: Case, seed: number) {
  const r = new TestRng(seed);
  const n = c.rows * c.cols;
  const z = Float32Array.from({ length: n }, () => (2 * r.next() - 1) * c.scale);
  const t = new Float32Array(n);
  for (let i = 0; i < c.rows; i++) {
    if (c.targets === 'one-hot') {
      t[i * c.cols + r.int(0, c.cols - 1)] = 1;
      continue;
    }
    let s = 0;
    for (let k = 0; k < c.cols; k++) s += t[i * c.cols + k] = r.next() < 0.3 ? 0 : r.next();
    // soft targets sum to 1 (a row of zeros gets one hot entry); unnormalised rows keep their sums in [0, cols)
    if (c.targets === 'soft') {
      if (s === 0) t[i * c.cols] = s = 1;
      for (let k = 0; k < c.cols; k++) t[i * c.cols + k] /= s;
    }
  }
  const up = Float32Array.from({ length: c.rows }, () => 2 * r.next() - 1);
  return { z, t, up };
}

/** Loss rows and the gradients of Σ_i up_i · L_i with respect to z and t, on the current backend. */
function lossAndGrads(
  loss: (z: tf.Tensor, t: tf.Tensor) => tf.Tensor,
  c: Case,
  d: ReturnType<typeof data>,
): Float32Array[] {
  return tf.tidy(() => {
    const z = tf.tensor2d(d.z, [c.rows, c.cols]);
    const t = tf.tensor2d(d.t, [c.rows, c.cols]);
    const up = tf.tensor1d(d.up);
    const [dz, dt] = tf.grads((zz: tf.Tensor, tt: tf.Tensor) => tf.sum(tf.mul(loss(zz, tt), up)))([z, t]);
    return [loss(z, t), dz, dt].map((x) => Float32Array.from(x.dataSync()));
  });
}

describe.skipIf(skipNative)(
  'softmax cross-entropy kernel against the cpu backend’s autodiff of the tf-op formula',
  () => {
    for (const [i, c] of CASES.entries())
      it(`${c.rows}×${c.cols}, logits in ±${c.scale}, ${c.targets} targets`, async () => {
        const d = data(c, 100 + i);
        await tf.setBackend('cpu');
        const ref = lossAndGrads(formula, c, d);
        await tf.setBackend('native');
        expect(softmaxXentActive()).toBe(true);
        nativeKernelStats(true);
        const nat = lossAndGrads(softmaxCrossEntropyRows, c, d);
        const stats = nativeKernelStats(true);
        // forward twice (once under the tape), the logits' gradient once, all native
        expect(stats[SOFTMAX_XENT]).toEqual({ native: 2, fallback: 0 });
        expect(stats[SOFTMAX_XENT_GRAD]).toEqual({ native: 1, fallback: 0 });
        for (const [j, name] of ['loss', 'dL/dz', 'dL/dt'].entries()) {
          expect(ref[j].every(Number.isFinite), `${name} reference finite`).toBe(true);
          expect(relErr(nat[j], ref[j]), name).toBeLessThanOrEqual(TOL);
        }
      });

    it('the JavaScript fallback computes the same as the kernel', async () => {
      await tf.setBackend('cpu');
      for (const [i, c] of CASES.entries()) {
        const d = data(c, 100 + i);
        const ref = lossAndGrads(formula, c, d);
        const loss = new Float32Array(c.rows);
        const dz = new Float32Array(c.rows * c.cols);
        xentJs.softmaxXent(d.z, d.t, loss, c.rows, c.cols);
        xentJs.softmaxXentGrad(d.z, d.t, d.up, dz, c.rows, c.cols);
        expect(relErr(loss, ref[0])).toBeLessThanOrEqual(TOL);
        expect(relErr(dz, ref[1])).toBeLessThanOrEqual(TOL);
      }
    });

    it('is the tf-op formula, bit for bit, on other backends, for other shapes, and with ARCAL_NATIVE_FUSED=0', async () => {
      const c: Case = { rows: 16, cols: 10, scale: 30, targets: 'soft' };
      const d = data(c, 7);
      const same = (a: Float32Array[], b: Float32Array[]) => {
        for (const [j, v] of a.entries()) expect(v).toEqual(b[j]);
      };
      await tf.setBackend('cpu');
      expect(softmaxXentActive()).toBe(false);
      same(lossAndGrads(softmaxCrossEntropyRows, c, d), lossAndGrads(formula, c, d));
      await tf.setBackend('native');
      process.env.ARCAL_NATIVE_FUSED = '0';
      try {
        expect(softmaxXentActive()).toBe(false);
        nativeKernelStats(true);
        same(lossAndGrads(softmaxCrossEntropyRows, c, d), lossAndGrads(formula, c, d));
        expect(nativeKernelStats(true)[SOFTMAX_XENT]).toBeUndefined();
      } finally {
        delete process.env.ARCAL_NATIVE_FUSED;
      }
      // targets broadcast over the rows: not the kernel's case, so the formula
      const z = tf.tensor2d(d.z, [c.rows, c.cols]);
      const t = tf.tensor1d(d.t.slice(0, c.cols));
      nativeKernelStats(true);
      const [a, b] = tf.tidy(() => [softmaxCrossEntropyRows(z, t), formula(z, t)].map((x) => x.dataSync()));
      expect(a).toEqual(b);
      expect(nativeKernelStats(true)[SOFTMAX_XENT]).toBeUndefined();
      tf.dispose([z, t]);
    });

    it('leaks no tensors over repeated values and gradients', async () => {
      await tf.setBackend('native');
      const c: Case = { rows: 64, cols: 10, scale: 5, targets: 'soft' };
      const d = data(c, 11);
      const z = tf.tensor2d(d.z, [c.rows, c.cols]);
      const t = tf.tensor2d(d.t, [c.rows, c.cols]);
      const step = () => {
        const { value, grad } = tf.valueAndGrad((zz: tf.Tensor) => tf.mean(softmaxCrossEntropyRows(zz, t)))(z);
        const l = softmaxCrossEntropyRows(z, t);
        tf.dispose([value, grad, l]);
      };
      step();
      const before = tf.memory().numTensors;
      nativeKernelStats(true);
      for (let i = 0; i < 200; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      expect(nativeKernelStats(true)[SOFTMAX_XENT_GRAD]).toEqual({ native: 200, fallback: 0 });
      tf.dispose([z, t]);
    });
  },
);
