import { describe, expect, it } from 'vitest';
import { batchNormInferAct, batchNormTrainAct, fusedLayersActive, nativeKernelStats } from '../src/index.ts';
import { input, nativeVsCpu, relErr, skipNative, TestRng, tf } from './helpers.ts';

const TOL = 1e-4;
const EPS = 1e-5;
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Shapes: odd sizes, C = 1, rows not a multiple of any vector width, rank 2 and 3; the channel counts the kernels
 * specialise (16, 32, 64) with row counts that are not a multiple of their 16-row float blocks, below and above
 * the size split over threads (2^15 elements); an odd channel count above it; a size whose second pass takes each
 * thread's rows in more than one block (2^16 elements).
 */
const SHAPES: number[][] = [
  [2, 3, 5, 1],
  [3, 7, 5, 3],
  [4, 9, 9, 17],
  [1, 2, 3, 6],
  [37, 5],
  [5, 11, 7],
  [8, 16, 16, 24],
  [3, 5, 7, 16],
  [5, 13, 11, 32],
  [9, 9, 7, 64],
  [4, 33, 17, 16],
  [3, 41, 13, 32],
  [7, 31, 31, 5],
  [2, 64, 64, 24],
];

/** The composite formulation of the models (tf.moments, tf.batchNorm, tf.relu), differentiated by tfjs. */
function composite(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, relu: boolean) {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const m = tf.moments(x, axes);
  const y = tf.batchNorm(x, m.mean, m.variance, b as tf.Tensor1D, g as tf.Tensor1D, EPS);
  return { y: relu ? tf.relu(y) : y, mean: m.mean, variance: m.variance };
}

/** Data with a per-channel offset far from 0 (checks the variance's accuracy) and a spread of signs. */
function data(rng: TestRng, shape: number[]) {
  const C = shape[shape.length - 1];
  const x = rng.normal(size(shape)).map((v, i) => 3 + (i % C) * 0.7 + v * (0.5 + (i % C) * 0.1));
  const gamma = rng.normal(C).map((v) => 1 + 0.3 * v);
  const beta = rng.normal(C).map((v) => 0.2 * v);
  const r = rng.normal(size(shape));
  return [input(shape, x), input([C], gamma), input([C], beta), input(shape, r)];
}

describe.skipIf(skipNative)('native batch norm + relu layers against tfjs autodiff on cpu', () => {
  it('are active on native', async () => {
    await tf.setBackend('native');
    expect(fusedLayersActive()).toBe(true);
  });

  it('training mode: y, batch mean and variance, and dx, dγ, dβ', async () => {
    const rng = new TestRng(17);
    nativeKernelStats(true);
    for (const shape of SHAPES)
      for (const relu of [true, false]) {
        const inputs = data(rng, shape);
        // loss Σ y ⊙ r, so ∂loss/∂y = r is dense
        const loss = (layer: typeof composite) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r: tf.Tensor) =>
          tf.sum(tf.mul(layer(x, g, b, relu).y, r));
        const run = async (backend: string, layer: typeof composite) => {
          await tf.setBackend(backend);
          const ts = inputs.map((i) => tf.tensor(i.data.slice(), i.shape));
          const out = tf.tidy(() => {
            const f = layer(ts[0], ts[1], ts[2], relu);
            const grads = tf.grads((x, g, b) => loss(layer)(x, g, b, ts[3]))(ts.slice(0, 3));
            return [f.y, f.mean, f.variance, ...grads].map((t) => Float32Array.from(t.dataSync()));
          });
          tf.dispose(ts);
          return out;
        };
        // each case's cpu autodiff takes a while: yield to the event loop between cases
        await new Promise((r) => setImmediate(r));
        const nat = await run('native', (x, g, b, rl) => {
          const o = batchNormTrainAct(x, g as tf.Tensor1D, b as tf.Tensor1D, EPS, rl);
          return { y: o.y, mean: o.mean, variance: o.variance };
        });
        const ref = await run('cpu', composite);
        for (const [i, name] of ['y', 'mean', 'variance', 'dx', 'dγ', 'dβ'].entries())
          expect(relErr(nat[i], ref[i]), `${shape} relu=${relu} ${name}`).toBeLessThanOrEqual(TOL);
        if (relu) expect(ref[0].some((v) => v === 0)).toBe(true);
      }
    const s = nativeKernelStats(true);
    expect(s.ArcalBatchNormTrain?.native ?? 0).toBeGreaterThan(0);
    expect(s.ArcalBatchNormGrad?.native ?? 0).toBeGreaterThan(0);
    expect(s.ArcalBatchNormTrain?.fallback ?? 0).toBe(0);
  });

  it('training mode with moving statistics: their update m·moving + (1 − m)·batch, and the same gradients', async () => {
    const rng = new TestRng(23);
    const m = 0.9;
    for (const shape of [
      [4, 9, 9, 17],
      [8, 16, 16, 16],
    ]) {
      const C = shape[shape.length - 1];
      const inputs = [
        ...data(rng, shape),
        input([C], rng.normal(C)),
        input(
          [C],
          rng.normal(C).map((v) => 0.5 + v * v),
        ),
      ];
      const run = async (backend: string, withMoving: boolean) => {
        await tf.setBackend(backend);
        const ts = inputs.map((i) => tf.tensor(i.data.slice(), i.shape));
        const [x, g, b, r, mm, mv] = ts;
        const outs = tf.tidy(() => {
          if (backend === 'cpu') {
            const o = composite(x, g, b, true);
            return [tf.add(tf.mul(mm, m), tf.mul(o.mean, 1 - m)), tf.add(tf.mul(mv, m), tf.mul(o.variance, 1 - m))];
          }
          const moving = withMoving ? { mean: mm as tf.Tensor1D, variance: mv as tf.Tensor1D, momentum: m } : undefined;
          let stats: tf.Tensor[] = [];
          const grads = tf.grads((xx, gg, bb) => {
            const o = batchNormTrainAct(xx, gg as tf.Tensor1D, bb as tf.Tensor1D, EPS, true, moving);
            stats = o.moving ? [tf.keep(o.moving.mean), tf.keep(o.moving.variance)] : [];
            return tf.sum(tf.mul(o.y, r));
          })([x, g, b]);
          return [...stats, ...grads];
        });
        const vals = outs.map((t) => Float32Array.from(t.dataSync()));
        tf.dispose([...outs, ...ts]);
        return vals;
      };
      const [natMean, natVar, ...natGrads] = await run('native', true);
      const plainGrads = await run('native', false);
      const [refMean, refVar] = await run('cpu', false);
      expect(relErr(natMean, refMean), `${shape} moving mean`).toBeLessThanOrEqual(TOL);
      expect(relErr(natVar, refVar), `${shape} moving variance`).toBeLessThanOrEqual(TOL);
      for (const [i, v] of natGrads.entries())
        expect(Buffer.from(v.buffer).equals(Buffer.from(plainGrads[i].buffer)), `${shape} gradient ${i}`).toBe(true);
    }
  });

  it('training mode gives bitwise the same outputs and gradients on every run (sums split over threads)', async () => {
    await tf.setBackend('native');
    const rng = new TestRng(41);
    for (const shape of [
      [16, 32, 32, 16],
      [6, 21, 17, 7],
    ]) {
      const ts = data(rng, shape).map((i) => tf.tensor(i.data.slice(), i.shape));
      const once = () => {
        // values are read outside the tidy (a tidy's result is searched for tensors element by element)
        const outs = tf.tidy(() => {
          const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
            batchNormTrainAct(x, g as tf.Tensor1D, b as tf.Tensor1D, EPS, true);
          const o = f(ts[0], ts[1], ts[2]);
          const grads = tf.grads((x, g, b) => tf.sum(tf.mul(f(x, g, b).y, ts[3])))(ts.slice(0, 3));
          return [o.y, o.mean, o.variance, ...grads];
        });
        const vals = outs.map((t) => Float32Array.from(t.dataSync()));
        tf.dispose(outs);
        return vals;
      };
      const first = once();
      for (let k = 0; k < 4; k++)
        for (const [i, v] of once().entries())
          expect(Buffer.from(v.buffer).equals(Buffer.from(first[i].buffer)), `${shape} output ${i}`).toBe(true);
      tf.dispose(ts);
    }
  });

  it('inference mode: y and the gradients for x, γ, β, mean and variance (tf.batchNorm + relu)', async () => {
    const rng = new TestRng(29);
    nativeKernelStats(true);
    for (const shape of SHAPES)
      for (const relu of [true, false]) {
        const C = shape[shape.length - 1];
        const [x, gamma, beta, r] = data(rng, shape);
        const mean = input(
          [C],
          rng.normal(C).map((v) => 3 + v),
        );
        const variance = input(
          [C],
          rng.normal(C).map((v) => 0.5 + v * v),
        );
        const f = (nativeLayer: boolean) => (xx: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          nativeLayer
            ? batchNormInferAct(xx, m as tf.Tensor1D, v as tf.Tensor1D, g as tf.Tensor1D, b as tf.Tensor1D, EPS, relu)
            : (() => {
                const y = tf.batchNorm(xx, m as tf.Tensor1D, v as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, EPS);
                return relu ? tf.relu(y) : y;
              })();
        const run = async (backend: string, nativeLayer: boolean) => {
          await tf.setBackend(backend);
          const ts = [x, mean, variance, gamma, beta, r].map((i) => tf.tensor(i.data.slice(), i.shape));
          const out = tf.tidy(() => {
            const layer = f(nativeLayer);
            const y = layer(ts[0], ts[1], ts[2], ts[3], ts[4]);
            const grads = tf.grads((a, m, v, g, b) => tf.sum(tf.mul(layer(a, m, v, g, b), ts[5])))(ts.slice(0, 5));
            // the input gradient alone (what an attack asks for)
            const dxOnly = tf.grad((a) => tf.sum(tf.mul(layer(a, ts[1], ts[2], ts[3], ts[4]), ts[5])))(ts[0]);
            return [y, ...grads, dxOnly].map((t) => Float32Array.from(t.dataSync()));
          });
          tf.dispose(ts);
          return out;
        };
        await new Promise((r) => setImmediate(r));
        const nat = await run('native', true);
        const ref = await run('cpu', false);
        for (const [i, name] of ['y', 'dx', 'dmean', 'dvariance', 'dγ', 'dβ', 'dx alone'].entries())
          expect(relErr(nat[i], ref[i]), `${shape} relu=${relu} ${name}`).toBeLessThanOrEqual(TOL);
      }
    const s = nativeKernelStats(true);
    expect(s.ArcalBatchNormInfer?.native ?? 0).toBeGreaterThan(0);
    expect(s.ArcalBatchNormGrad?.native ?? 0).toBeGreaterThan(0);
  });

  it("tfjs's own FusedBatchNorm kernel (tf.batchNorm) runs natively, with and without scale and offset", async () => {
    const rng = new TestRng(5);
    nativeKernelStats(true);
    for (const shape of [
      [4, 9, 9, 17],
      [2, 3, 5, 1],
    ]) {
      const C = shape[shape.length - 1];
      const [x, gamma, beta] = data(rng, shape);
      const m = input([1, 1, 1, C], rng.normal(C));
      const v = input(
        [1, 1, 1, C],
        rng.normal(C).map((q) => 0.5 + q * q),
      );
      const g = input([1, 1, 1, C], gamma.data);
      const b = input([1, 1, 1, C], beta.data);
      expect(
        await nativeVsCpu((xx, mm, vv, gg, bb) => tf.batchNorm(xx, mm, vv, bb, gg, 0.01), [x, m, v, g, b]),
      ).toBeLessThanOrEqual(1e-5);
      expect(await nativeVsCpu((xx, mm, vv) => tf.batchNorm(xx, mm, vv), [x, m, v])).toBeLessThanOrEqual(1e-5);
    }
    // a scalar mean (size 1 ≠ C) is left to the JS kernel, with the same result
    const [x] = data(rng, [2, 4, 4, 3]);
    const scalarStats = [input([1], Float32Array.of(0.5)), input([1], Float32Array.of(2))];
    expect(await nativeVsCpu((xx, mm, vv) => tf.batchNorm(xx, mm, vv), [x, ...scalarStats])).toBeLessThanOrEqual(1e-5);
    const s = nativeKernelStats(true);
    expect(s.FusedBatchNorm.native).toBeGreaterThan(0);
    expect(s.FusedBatchNorm.fallback).toBeGreaterThan(0);
  });

  it('storage the addon does not take (int32 x) goes through the JavaScript fallback with the same result', async () => {
    await tf.setBackend('native');
    const rng = new TestRng(8);
    const shape = [3, 5, 4, 6];
    const ints = Int32Array.from(rng.normal(size(shape)), (v) => Math.round(v * 4));
    const [, gamma, beta, r] = data(rng, shape);
    const grads = (x: tf.Tensor) =>
      tf.tidy(() => {
        const g = tf.tensor1d(gamma.data.slice());
        const b = tf.tensor1d(beta.data.slice());
        const rt = tf.tensor(r.data.slice(), shape);
        const o = batchNormTrainAct(x, g, b, EPS, true);
        const inf = batchNormInferAct(x, o.mean, o.variance, g, b, EPS, true);
        const [dg, db] = tf.grads((gg: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(batchNormTrainAct(x, gg as tf.Tensor1D, bb as tf.Tensor1D, EPS, true).y, rt)),
        )([g, b]);
        return [o.y, o.mean, o.variance, inf, dg, db].map((t) => Float32Array.from(t.dataSync()));
      });
    const xi = tf.tensor(ints, shape, 'int32');
    const xf = tf.tensor(Float32Array.from(ints), shape);
    nativeKernelStats(true);
    const viaJs = grads(xi);
    const js = nativeKernelStats(true);
    const viaNative = grads(xf);
    tf.dispose([xi, xf]);
    expect(js.ArcalBatchNormTrain.fallback).toBeGreaterThan(0);
    expect(js.ArcalBatchNormInfer.fallback).toBeGreaterThan(0);
    for (const [i, v] of viaJs.entries()) expect(relErr(v, viaNative[i]), `output ${i}`).toBeLessThanOrEqual(1e-5);
  });

  it('leaks no tensors over training steps, and an input gradient in inference mode leaks none', async () => {
    await tf.setBackend('native');
    const rng = new TestRng(3);
    const variable = (t: tf.Tensor) => {
      const v = tf.variable(t);
      t.dispose();
      return v;
    };
    const w = variable(
      tf.tensor(
        rng.normal(3 * 3 * 3 * 8).map((v) => v * 0.3),
        [3, 3, 3, 8],
      ),
    );
    const gamma = variable(tf.ones([8]));
    const beta = variable(tf.zeros([8]));
    const mean = variable(tf.zeros([8]));
    const variance = variable(tf.ones([8]));
    const x = tf.tensor(rng.normal(16 * 12 * 12 * 3), [16, 12, 12, 3]) as tf.Tensor4D;
    const opt = tf.train.sgd(0.01);
    const step = () => {
      let stats: tf.Tensor[] = [];
      const loss = opt.minimize(() => {
        const h = tf.conv2d(x, w as tf.Tensor4D, 1, 'same');
        const o = batchNormTrainAct(h, gamma as tf.Tensor1D, beta as tf.Tensor1D, EPS, true);
        stats = [tf.keep(o.mean), tf.keep(o.variance)];
        return tf.mean(tf.square(o.y));
      }, true)!;
      mean.assign(stats[0]);
      variance.assign(stats[1]);
      tf.dispose([loss, ...stats]);
    };
    for (let i = 0; i < 5; i++) step();
    const before = tf.memory();
    for (let i = 0; i < 20; i++) step();
    const g = tf.grad((xx: tf.Tensor) =>
      tf.sum(
        batchNormInferAct(
          tf.conv2d(xx as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
          mean as tf.Tensor1D,
          variance as tf.Tensor1D,
          gamma as tf.Tensor1D,
          beta as tf.Tensor1D,
          EPS,
          true,
        ),
      ),
    )(x);
    g.dispose();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([w, gamma, beta, mean, variance, x]);
    opt.dispose();
  });
});
