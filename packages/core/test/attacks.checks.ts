/** The checks every attack must pass on a linear fixture, shared by the attack test files. */
import { expect } from 'vitest';
import { type AttackName, type MinimalPerturbationOptions, minimalPerturbation } from '../src/attacks/index.ts';
import { tf } from '../src/backend/index.ts';
import { argmax, type LinearProblem } from './attacks.fixtures.ts';

/** Runs the attack with default parameters and checks everything but the closeness to d*; returns the landing classes. */
export async function checkedRun(
  p: LinearProblem,
  attack: AttackName,
  extra: Partial<MinimalPerturbationOptions> = {},
): Promise<{ norms: Float32Array; landed: Int32Array }> {
  const before = tf.memory().numTensors;
  const r = await minimalPerturbation(p.model, p.x, {
    attack,
    shape: [p.n, p.d],
    batchSize: 32,
    returnAdversarial: true,
    ...extra,
  });
  expect(tf.memory().numTensors).toBe(before);
  expect(Array.from(r.predicted)).toEqual(Array.from(p.predicted));
  const adv = r.adversarial as Float32Array;
  expect(adv.length).toBe(p.n * p.d);
  const landed = new Int32Array(p.n);
  const zt = tf.tidy(() => p.model(tf.tensor2d(adv, [p.n, p.d])));
  const zv = zt.dataSync();
  zt.dispose();
  for (let i = 0; i < p.n; i++) {
    expect(r.success[i]).toBe(1);
    expect(r.norms[i]).toBeGreaterThanOrEqual(p.exact[i] - 1e-4);
    const row = adv.subarray(i * p.d, (i + 1) * p.d);
    let s = 0;
    for (let c = 0; c < p.d; c++) {
      expect(row[c]).toBeGreaterThanOrEqual(0);
      expect(row[c]).toBeLessThanOrEqual(1);
      s += (row[c] - p.x[i * p.d + c]) ** 2;
    }
    expect(Math.abs(Math.sqrt(s) - r.norms[i])).toBeLessThan(1e-6 * Math.max(1, r.norms[i]));
    // The model (float32) predicts another class; float64 logits agree up to float32 rounding.
    landed[i] = argmax(zv.subarray(i * p.k, (i + 1) * p.k));
    expect(landed[i]).not.toBe(p.predicted[i]);
    const z = p.logits64(row);
    expect(z[p.predicted[i]] - z[landed[i]]).toBeLessThan(1e-5);
  }
  return { norms: r.norms, landed };
}
