import { describe, expect, it } from 'vitest';
import {
  fusedOptimizerActive,
  nativeBackend,
  nativeKernelStats,
  OPTIMIZER_UPDATE,
  optimizerUpdate,
  type UpdateKind,
} from '../src/index.ts';
import { relErr, skipNative, TestRng, tf } from './helpers.ts';

/** Sizes around the elementwise threshold (4096), one below a vector width, and one large (OpenMP) case. */
const SIZES = [1, 7, 4095, 4096, 100_003];
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

/** packages/core's Optimizer.apply over tf ops (the reference formulation), for one parameter. */
function tfOpsStep(
  kind: UpdateKind,
  p: tf.Variable,
  g: tf.Tensor,
  s: tf.Variable[],
  lr: number,
  mu: number,
  wd: number,
  t: number,
) {
  tf.tidy(() => {
    if (wd > 0) g = tf.add(g, tf.mul(p, wd));
    if (kind === 'sgd') p.assign(tf.sub(p, tf.mul(g, lr)));
    else if (kind === 'momentum') {
      s[0].assign(tf.add(tf.mul(s[0], mu), g));
      p.assign(tf.sub(p, tf.mul(s[0], lr)));
    } else {
      const [m, v] = s;
      m.assign(tf.add(tf.mul(m, B1), tf.mul(g, 1 - B1)));
      v.assign(tf.add(tf.mul(v, B2), tf.mul(tf.square(g), 1 - B2)));
      const upd = tf.div(tf.div(m, 1 - B1 ** t), tf.add(tf.sqrt(tf.div(v, 1 - B2 ** t)), EPS));
      p.assign(tf.sub(p, tf.mul(upd, lr)));
    }
  });
}

const STATES: Record<UpdateKind, number> = { sgd: 0, momentum: 1, adam: 2 };

/** Runs `steps` updates of parameters of the given sizes (fresh random gradients each step) and returns p and state. */
async function run(backend: string, kind: UpdateKind, wd: number, fused: boolean, steps: number) {
  await tf.setBackend(backend);
  const rng = new TestRng(23);
  const vars = (f: (n: number) => Float32Array): tf.Variable[] =>
    SIZES.map((n) => tf.tidy(() => tf.variable(tf.tensor1d(f(n)))));
  const ps = vars((n) => rng.normal(n));
  const states = Array.from({ length: STATES[kind] }, () => vars((n) => new Float32Array(n)));
  const gradData = Array.from({ length: steps }, () => SIZES.map((n) => rng.normal(n).map((x) => x * 0.1)));
  for (let t = 1; t <= steps; t++) {
    const lr = 0.01 / t;
    const gs = gradData[t - 1].map((d) => tf.tensor1d(d));
    if (fused) {
      const out = optimizerUpdate(kind, ps, gs, states, {
        lr,
        weightDecay: wd,
        ...(kind === 'adam'
          ? { a: B1, b: 1 - B1, c: B2, d: 1 - B2, c1: 1 - B1 ** t, c2: 1 - B2 ** t, epsilon: EPS }
          : { a: 0.9 }),
      });
      for (let i = 0; i < ps.length; i++) {
        ps[i].assign(out.params[i]);
        for (let j = 0; j < states.length; j++) states[j][i].assign(out.states[j][i]);
      }
      tf.dispose([...out.params, ...out.states.flat()]);
    } else
      for (let i = 0; i < ps.length; i++)
        tfOpsStep(
          kind,
          ps[i],
          gs[i],
          states.map((s) => s[i]),
          lr,
          0.9,
          wd,
          t,
        );
    tf.dispose(gs);
  }
  const values = [ps, ...states].map((vs) => vs.map((v) => Float32Array.from(v.dataSync())));
  tf.dispose([ps, ...states].flat());
  return values;
}

describe.skipIf(skipNative)('fused optimizer update against the tf-op formulation on cpu', () => {
  it('is active on native only, and ARCAL_NATIVE_FUSED=0 turns it off', async () => {
    await tf.setBackend('native');
    expect(fusedOptimizerActive()).toBe(true);
    process.env.ARCAL_NATIVE_FUSED = '0';
    try {
      expect(fusedOptimizerActive()).toBe(false);
    } finally {
      delete process.env.ARCAL_NATIVE_FUSED;
    }
    await tf.setBackend('cpu');
    expect(fusedOptimizerActive()).toBe(false);
  });

  for (const kind of ['adam', 'momentum', 'sgd'] as const)
    for (const wd of [0, 5e-4])
      it(`${kind}${wd > 0 ? ' with weight decay' : ''}: p and state over 5 steps, sizes ${SIZES.join(', ')}`, async () => {
        nativeKernelStats(true);
        const nat = await run('native', kind, wd, true, 5);
        expect(nativeKernelStats(true)[OPTIMIZER_UPDATE]).toEqual({ native: 5, fallback: 0 });
        const ref = await run('cpu', kind, wd, false, 5);
        for (const [j, vs] of nat.entries())
          for (const [i, v] of vs.entries()) {
            expect(v.length).toBe(SIZES[i]);
            expect(relErr(v, ref[j][i]), `tensor ${j} of size ${SIZES[i]}`).toBeLessThan(1e-6);
          }
        // the tf ops on native (native elementwise kernels from 4096 elements) give the same numbers
        const natOps = await run('native', kind, wd, false, 5);
        for (const [j, vs] of natOps.entries())
          for (const [i, v] of vs.entries()) expect(relErr(v, ref[j][i])).toBeLessThan(1e-6);
      });

  it('the JavaScript fallback (non-float32 storage) gives the same numbers', async () => {
    await tf.setBackend('native');
    const p = tf.tensor1d([1, -2, 3, 4, -5, 6, 7], 'int32');
    const g = tf.tensor1d([0.5, 0.25, -1, 2, 0, -0.125, 3]);
    const m = tf.zeros([7]);
    const v = tf.zeros([7]);
    const scalars = {
      lr: 0.1,
      weightDecay: 0.01,
      a: B1,
      b: 1 - B1,
      c: B2,
      d: 1 - B2,
      c1: 1 - B1,
      c2: 1 - B2,
      epsilon: EPS,
    };
    nativeKernelStats(true);
    const out = optimizerUpdate('adam', [p], [g], [[m], [v]], scalars);
    expect(nativeKernelStats(true)[OPTIMIZER_UPDATE]).toEqual({ native: 0, fallback: 1 });
    const fb = [out.params[0], ...out.states.flat()].map((t) => Float32Array.from(t.dataSync()));
    const pf = tf.cast(p, 'float32');
    const out2 = optimizerUpdate('adam', [pf], [g], [[m], [v]], scalars);
    const nat = [out2.params[0], ...out2.states.flat()].map((t) => Float32Array.from(t.dataSync()));
    for (const [i, x] of fb.entries()) expect(x).toEqual(nat[i]);
    tf.dispose([p, g, m, v, pf, out.params, out.states.flat(), out2.params, out2.states.flat()].flat());
  });

  it('leaks no tensors and no pooled buffers over 1,000 Adam steps', { timeout: 60_000 }, async () => {
    await tf.setBackend('native');
    const rng = new TestRng(5);
    const ps: tf.Variable[] = SIZES.slice(0, 4).map((n) => tf.tidy(() => tf.variable(tf.tensor1d(rng.normal(n)))));
    const ms: tf.Variable[] = ps.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p))));
    const vs: tf.Variable[] = ps.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p))));
    const gs = ps.map((p) => tf.randomNormal(p.shape));
    const step = (t: number) => {
      const out = optimizerUpdate('adam', ps, gs, [ms, vs], {
        lr: 1e-3,
        weightDecay: 1e-4,
        a: B1,
        b: 1 - B1,
        c: B2,
        d: 1 - B2,
        c1: 1 - B1 ** t,
        c2: 1 - B2 ** t,
        epsilon: EPS,
      });
      for (let i = 0; i < ps.length; i++) {
        ps[i].assign(out.params[i]);
        ms[i].assign(out.states[0][i]);
        vs[i].assign(out.states[1][i]);
      }
      tf.dispose([...out.params, ...out.states.flat()]);
    };
    for (let t = 1; t <= 100; t++) step(t);
    const mem0 = tf.memory();
    const alloc0 = nativeBackend()!.pool.stats().allocated;
    for (let t = 101; t <= 1100; t++) step(t);
    const mem1 = tf.memory();
    expect(mem1.numTensors).toBe(mem0.numTensors);
    expect(mem1.numBytes).toBe(mem0.numBytes);
    // every output buffer after warm-up comes back from the pool
    expect(nativeBackend()!.pool.stats().allocated).toBe(alloc0);
    expect(ps.every((p) => p.dataSync().every(Number.isFinite))).toBe(true);
    tf.dispose([...ps, ...ms, ...vs, ...gs]);
  });
});
