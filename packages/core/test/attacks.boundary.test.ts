import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS, minimalPerturbation } from '../src/attacks/index.ts';
import type { BatchAttack } from '../src/attacks/types.ts';
import { ready, tf } from '../src/backend/index.ts';

// Two classes, z = (w·x, 0): the boundary is w·x = 0, and the exact distance of x is |w·x| / ‖w‖.
const w = Float32Array.from([0.6, -0.8, 0.3, 0.1]);
const model = (x: tf.Tensor) =>
  tf.tidy(() =>
    tf.concat([tf.matMul(x as tf.Tensor2D, tf.tensor2d(w, [4, 1])), tf.zeros([x.shape[0], 1])], 1),
  ) as tf.Tensor2D;
const x = Float32Array.from([0.9, 0.2, 0.5, 0.5, 0.7, 0.3, 0.6, 0.4]);
const original = ATTACKS['deepfool-l2'];

/** A stand-in attack that stops a hair short of the boundary (0.001 % of the way), as a rounding error would leave it. */
const onTheBoundary: BatchAttack = async (_f, xt, _pred, _k, _p) => {
  const data = (await xt.data()) as Float32Array;
  const n = xt.shape[0];
  const adv = new Float32Array(data.length);
  const ww = w.reduce((s, v) => s + v * v, 0);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < 4; j++) dot += w[j] * data[i * 4 + j];
    for (let j = 0; j < 4; j++) adv[i * 4 + j] = data[i * 4 + j] - (1 - 1e-5) * (dot / ww) * w[j];
  }
  return { adversarial: adv, found: new Uint8Array(n).fill(1), iterations: 1, exampleIterations: n };
};

beforeAll(async () => {
  await ready({ backend: 'cpu' });
});
afterEach(() => {
  ATTACKS['deepfool-l2'] = original;
});

describe('re-check of attack results', () => {
  it('extends a perturbation that stops on the boundary by at most 1 % until it verifiably fools the model', async () => {
    ATTACKS['deepfool-l2'] = onTheBoundary;
    const r = await minimalPerturbation(model, x, { attack: 'deepfool-l2', shape: [2, 4], returnAdversarial: true });
    const wn = Math.hypot(...w);
    for (let i = 0; i < 2; i++) {
      const exact = Math.abs(w.reduce((s, v, j) => s + v * x[i * 4 + j], 0)) / wn;
      expect(r.success[i]).toBe(1);
      expect(r.norms[i]).toBeGreaterThanOrEqual(exact - 1e-6);
      expect(r.norms[i]).toBeLessThanOrEqual(exact * 1.01 + 1e-6);
      // the returned point really is on the other side
      const z = w.reduce((s, v, j) => s + v * r.adversarial![i * 4 + j], 0);
      expect(Math.sign(z)).not.toBe(Math.sign(w.reduce((s, v, j) => s + v * x[i * 4 + j], 0)));
    }
  });
  it('still reports Infinity when even a 1 % extension does not fool the model', async () => {
    ATTACKS['deepfool-l2'] = async (_f, xt) => {
      const data = (await xt.data()) as Float32Array;
      return {
        adversarial: data.slice(),
        found: new Uint8Array(xt.shape[0]).fill(1),
        iterations: 1,
        exampleIterations: 1,
      };
    };
    const r = await minimalPerturbation(model, x, { attack: 'deepfool-l2', shape: [2, 4] });
    expect(Array.from(r.norms)).toEqual([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    expect(Array.from(r.success)).toEqual([0, 0]);
  });
});
