/**
 * Properties every attack must have whatever the model: results independent of batch size and example order,
 * of a constant added to every logit and of the model's form; +Infinity (never a finite number) for examples
 * it cannot fool; no leaked tensors. Cheap parameters keep the file fast; the properties do not depend on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AttackName,
  averagedProbabilityModel,
  type MinimalPerturbationOptions,
  minimalPerturbation,
} from '../src/attacks/index.ts';
import { ready, tf } from '../src/backend/index.ts';
import { Rng } from '../src/util/rng.ts';
import { type LinearProblem, linearProblem } from './attacks.fixtures.ts';

const cheap: Record<AttackName, Partial<MinimalPerturbationOptions>> = {
  'cw-l2': { binarySearchSteps: 2, steps: 25 },
  'fmn-l2': { steps: 40 },
  'ddn-l2': { steps: 40 },
  'deepfool-l2': {},
};
const attacks = Object.keys(cheap) as AttackName[];

// Batches share no state, so on the cpu backend the numbers agree to float32 rounding of reductions at most.
const REL_TOL = 1e-5;

let p: LinearProblem;
beforeAll(async () => {
  await ready({ backend: 'cpu' });
  p = linearProblem(5, { n: 20, d: 24, k: 6, minDist: 0.05 });
});
afterAll(() => p.dispose());

const run = (
  attack: AttackName,
  model: Parameters<typeof minimalPerturbation>[0],
  x: Float32Array,
  extra: Partial<MinimalPerturbationOptions> = {},
) => minimalPerturbation(model, x, { attack, shape: [x.length / p.d, p.d], batchSize: 20, ...cheap[attack], ...extra });

function expectClose(a: Float32Array, b: Float32Array, tol = REL_TOL) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) expect(b[i]).toBe(a[i]);
    else expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.abs(a[i]));
  }
}

describe.each(attacks)('%s', (attack) => {
  it('gives the same norms for any batch size and example order', async () => {
    const whole = await run(attack, p.model, p.x);
    const small = await run(attack, p.model, p.x, { batchSize: 7 });
    expectClose(whole.norms, small.norms);
    expect(Array.from(small.success)).toEqual(Array.from(whole.success));
    const perm = new Rng(3).permutation(p.n);
    const xp = new Float32Array(p.x.length);
    for (let dst = 0; dst < p.n; dst++) xp.set(p.x.subarray(perm[dst] * p.d, (perm[dst] + 1) * p.d), dst * p.d);
    const shuffled = await run(attack, p.model, xp, { batchSize: 6 });
    expectClose(
      Float32Array.from(perm, (src) => whole.norms[src]),
      shuffled.norms,
    );
    expect(Array.from(shuffled.predicted)).toEqual(Array.from(perm, (src) => whole.predicted[src]));
  });

  it('ignores a constant added to every logit, and accepts the apply(x, training) form', async () => {
    const base = await run(attack, p.model, p.x);
    const shifted = await run(attack, (x) => tf.add(p.model(x), 2.5), p.x);
    // Adding 2.5 in float32 rounds the logits (relative 2^-24 of 2.5), which moves boundary points by ~1e-7.
    expectClose(base.norms, shifted.norms, 1e-4);
    const training: boolean[] = [];
    const obj = {
      apply: (x: tf.Tensor, t?: boolean) => {
        training.push(Boolean(t));
        return p.model(x);
      },
    };
    const applied = await run(attack, obj, p.x);
    expectClose(base.norms, applied.norms, 0);
    expect(training.every((t) => t === false)).toBe(true);
  });

  it('attacks an ensemble through its averaged probabilities', async () => {
    // One member: log softmax(z) = z − logsumexp(z), a per-example shift, so the distances are the logits'.
    const base = await run(attack, p.model, p.x);
    const ens = await run(attack, averagedProbabilityModel([p.model]), p.x);
    expectClose(base.norms, ens.norms, 1e-3);
    const probs = await run(attack, (x) => tf.softmax(p.model(x)), p.x, { outputs: 'probabilities' });
    expectClose(base.norms, probs.norms, 1e-3);
  });

  it('reports +Infinity and success 0 for examples it cannot fool, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    // Constant logits: no gradient at all.
    const flat = (x: tf.Tensor) =>
      tf.tidy(() => tf.add(tf.mul(tf.sum(tf.reshape(x, [x.shape[0], -1]), 1, true), 0), tf.tensor2d([[1, 0, -1]])));
    // Class 0 wins everywhere in the box (z₀ − z₁ = 1 + 0.5 Σx > 0) although the gradient is not zero.
    const boxed = (x: tf.Tensor) =>
      tf.tidy(() => {
        const s = tf.sum(tf.reshape(x, [x.shape[0], -1]), 1, true);
        return tf.concat([tf.add(s, 1), tf.mul(s, 0.5), tf.zerosLike(s)], 1);
      });
    for (const model of [flat, boxed]) {
      const r = await run(attack, model, p.x.subarray(0, 5 * p.d), { returnAdversarial: true });
      expect(Array.from(r.norms)).toEqual(new Array(5).fill(Number.POSITIVE_INFINITY));
      expect(Array.from(r.success)).toEqual([0, 0, 0, 0, 0]);
      expect(Array.from(r.predicted)).toEqual([0, 0, 0, 0, 0]);
      expect((r.adversarial as Float32Array).every((v) => Number.isNaN(v))).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('driver', () => {
  it('takes a tensor as well as a Float32Array, leaves it alive, and reports progress per batch', async () => {
    const xt = tf.tensor2d(p.x, [p.n, p.d]);
    const before = tf.memory().numTensors;
    const seen: Array<[number, number]> = [];
    const a = await minimalPerturbation(p.model, xt, {
      attack: 'deepfool-l2',
      batchSize: 8,
      onProgress: (d, t) => seen.push([d, t]),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(xt.isDisposed).toBe(false);
    xt.dispose();
    const b = await run('deepfool-l2', p.model, p.x);
    expectClose(a.norms, b.norms);
    expect(seen).toEqual([
      [8, 20],
      [16, 20],
      [20, 20],
    ]);
  });

  it('refineSteps bisects along each perturbation: DeepFool on a linear model then hits the exact distance', async () => {
    // DeepFool's first step is normal to the nearest linearised boundary, exact for a linear model; only its
    // overshoot (1.02) remains, and bisection to 2^-24 removes it.
    const r = await run('deepfool-l2', p.model, p.x, { refineSteps: 24 });
    for (let i = 0; i < p.n; i++) {
      expect(r.norms[i]).toBeGreaterThanOrEqual(p.exact[i] - 1e-4);
      expect(r.norms[i] / p.exact[i] - 1).toBeLessThan(1e-4);
    }
    const plain = await run('deepfool-l2', p.model, p.x);
    for (let i = 0; i < p.n; i++) expect(plain.norms[i] / p.exact[i] - 1).toBeGreaterThan(0.015);
  });

  it('ddn-l2 refines along the ray by default: never longer than without, and still adversarial', async () => {
    // The bisection keeps t = 1 unless a shorter point on the ray fools the model, which the re-check confirms.
    // With 5 steps the radius, (1 ± γ)-steps from the first-order ε₀, still overshoots the boundary.
    const plain = await run('ddn-l2', p.model, p.x, { steps: 5, refineSteps: 0 });
    const refined = await run('ddn-l2', p.model, p.x, { steps: 5 });
    expect(Array.from(refined.success)).toEqual(Array.from(plain.success));
    let shorter = 0;
    for (let i = 0; i < p.n; i++) {
      expect(refined.norms[i]).toBeLessThanOrEqual(plain.norms[i] * (1 + 1e-6));
      expect(refined.norms[i]).toBeGreaterThanOrEqual(p.exact[i] - 1e-4);
      if (refined.norms[i] < plain.norms[i] * (1 - 1e-3)) shorter++;
    }
    expect(shorter).toBeGreaterThan(0);
  });

  it('returns empty results for zero examples', async () => {
    const r = await minimalPerturbation(p.model, new Float32Array(0), { attack: 'fmn-l2', shape: [0, p.d] });
    expect(r.norms.length).toBe(0);
    expect(r.iterations).toBe(0);
  });

  it("shrinks the batch as examples are fooled (DeepFool) or abort (C&W with abortRule 'each')", async () => {
    const df = await run('deepfool-l2', p.model, p.x, { steps: 50 });
    // A linear model is fooled in one step: every example leaves after its first iteration.
    expect(df.exampleIterations).toBe(p.n);
    // (under the default rule, 'all', a round ends for every example at once: attacks.versions.test.ts)
    const cw = await run('cw-l2', p.model, p.x, { binarySearchSteps: 2, steps: 200, abortRule: 'each' });
    expect(cw.exampleIterations).toBeLessThan(cw.iterations * p.n);
  });
});
