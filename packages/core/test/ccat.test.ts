import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready, tf } from '../src/backend/index.ts';
import { unimplementedPaths } from '../src/experiment/features.ts';
import { runExperiment } from '../src/experiment/run.ts';
import { createModel, predictProbabilities } from '../src/models/index.ts';
import { ccatBatch, confidenceMaximisingPgd, maxOtherClassProbability } from '../src/training/ccat.ts';
import { Rng } from '../src/util/rng.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await ready({ backend: 'cpu' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** max_{k≠y} p_k computed row by row in plain JS. */
function maxOther(probs: Float32Array, labels: Int32Array, Z: number): number[] {
  return Array.from(labels, (y, i) => {
    let m = 0;
    for (let k = 0; k < Z; k++) if (k !== y) m = Math.max(m, probs[i * Z + k]);
    return m;
  });
}

function batch(n: number, per: number, Z: number, seed: number) {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n * per }, () => rng.next());
  const y = Int32Array.from({ length: n }, () => rng.int(Z));
  return { x, y };
}

describe('CCAT spec defaults', () => {
  const base = {
    name: 'c',
    model: { arch: 'mlp' },
    training: { epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 0.01 },
  };
  it('ε = 0.3 on 1-channel images, 8/255 on colour images, step 2.5·ε/steps, ρ = 10', () => {
    const mono = validateSpec({ ...base, dataset: { name: 'fashion-mnist' }, method: { kind: 'ccat' } });
    const colour = validateSpec({
      ...base,
      dataset: { name: 'cifar10' },
      method: { kind: 'ccat', ccat: { steps: 4 } },
    });
    if (!mono.ok || !colour.ok) throw new Error('expected valid specs');
    expect(mono.spec.method.ccat).toEqual({ epsilon: 0.3, steps: 10, stepSize: 0.075, rho: 10 });
    expect(colour.spec.method.ccat!.epsilon).toBeCloseTo(8 / 255, 15);
    expect(colour.spec.method.ccat!.stepSize).toBeCloseTo((2.5 * 8) / 255 / 4, 15);
    expect(unimplementedPaths(mono.spec)).toEqual([]);
  });
  it('method.ccat is refused on other methods and absent from their resolved spec', () => {
    const bad = validateSpec({ ...base, dataset: { name: 'mnist' }, method: { kind: 'vanilla', ccat: { rho: 2 } } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems).toEqual([{ path: 'method.ccat', message: 'only applies to method ccat' }]);
    const ok = validateSpec({ ...base, dataset: { name: 'mnist' }, method: { kind: 'vanilla' } });
    expect(ok.ok && ok.spec.method.ccat).toBe(undefined);
  });
});

describe('confidence-maximising PGD', () => {
  it('stays inside the ε-ball and [0, 1], and its steps raise max_{k≠y} p_k above the random start', () => {
    const Z = 4;
    const shape: [number, number, number] = [3, 3, 1];
    const model = createModel({ arch: 'mlp', inputShape: shape, classes: Z, hidden: [12] }, 5);
    const n = 16;
    const { x, y } = batch(n, 9, Z, 2);
    const eps = 0.2;
    const before = tf.memory().numTensors;
    const start = confidenceMaximisingPgd(
      model,
      x,
      y,
      [n, ...shape],
      { epsilon: eps, steps: 0, stepSize: 0.05 },
      new Rng(9),
    );
    const r = confidenceMaximisingPgd(
      model,
      x,
      y,
      [n, ...shape],
      { epsilon: eps, steps: 10, stepSize: 0.05 },
      new Rng(9),
    );
    expect(tf.memory().numTensors).toBe(before);
    for (let k = 0; k < x.length; k++) {
      expect(Math.abs(r.xAdv[k] - x[k])).toBeLessThanOrEqual(eps + 1e-6);
      expect(r.xAdv[k]).toBeGreaterThanOrEqual(0);
      expect(r.xAdv[k]).toBeLessThanOrEqual(1);
    }
    // the objective, recomputed from the returned inputs by an independent path
    const clean = maxOther(predictProbabilities(model, x, n), y, Z);
    const random = maxOther(predictProbabilities(model, start.xAdv, n), y, Z);
    const adv = maxOther(predictProbabilities(model, r.xAdv, n), y, Z);
    for (const [i, v] of adv.entries()) expect(r.confidence[i]).toBeCloseTo(v, 5);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(adv)).toBeGreaterThan(mean(clean) + 0.01);
    expect(mean(adv)).toBeGreaterThan(mean(random) + 0.01);
    // ‖δ‖∞ as reported
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let k = 0; k < 9; k++) m = Math.max(m, Math.abs(r.xAdv[i * 9 + k] - x[i * 9 + k]));
      expect(r.deltaLinf[i]).toBeCloseTo(m, 6);
    }
    model.dispose();
  });

  it('maxOtherClassProbability on a hand-made row', () => {
    // softmax([0, ln 2, ln 3]) = [1/6, 2/6, 3/6]; label 2 → 1/3, label 0 → 1/2
    const z = tf.tensor2d([
      [0, Math.log(2), Math.log(3)],
      [0, Math.log(2), Math.log(3)],
    ]);
    const yt = tf.tensor1d([2, 0], 'int32');
    const m = maxOtherClassProbability(z as tf.Tensor2D, yt as tf.Tensor1D);
    const v = m.dataSync();
    expect(v[0]).toBeCloseTo(1 / 3, 6);
    expect(v[1]).toBeCloseTo(1 / 2, 6);
    tf.dispose([z, yt, m]);
  });
});

describe('ccatBatch', () => {
  it('keeps the clean half and gives the adversarial half λ(δ)·onehot + (1 − λ(δ))/K with λ of the measured δ', () => {
    const Z = 3;
    const shape: [number, number, number] = [2, 2, 1];
    const per = 4;
    const model = createModel({ arch: 'mlp', inputShape: shape, classes: Z, hidden: [8] }, 3);
    const b = 9;
    const { x, y } = batch(b, per, Z, 4);
    const xb = x.slice();
    const targets = new Float32Array(b * Z);
    for (let i = 0; i < b; i++) targets[i * Z + y[i]] = 1;
    const clean = targets.slice();
    const eps = 0.5;
    const rho = 2;
    const before = tf.memory().numTensors;
    const r = ccatBatch(model, xb, targets, y, shape, Z, { epsilon: eps, steps: 3, stepSize: 0.1, rho }, new Rng(1));
    expect(tf.memory().numTensors).toBe(before);
    const half = 4; // ⌊9/2⌋
    expect(Array.from(xb.subarray(0, half * per))).toEqual(Array.from(x.subarray(0, half * per)));
    expect(Array.from(targets.subarray(0, half * Z))).toEqual(Array.from(clean.subarray(0, half * Z)));
    expect(r.lambdas).toHaveLength(b - half);
    let interior = 0;
    for (let i = half; i < b; i++) {
      let d = 0;
      for (let k = 0; k < per; k++) d = Math.max(d, Math.abs(xb[i * per + k] - x[i * per + k]));
      const lam = (1 - Math.min(1, d / eps)) ** rho;
      if (lam > 0.01 && lam < 0.99) interior++;
      for (let k = 0; k < Z; k++) {
        const want = (k === y[i] ? lam : 0) + (1 - lam) / Z;
        expect(targets[i * Z + k]).toBeCloseTo(want, 5);
      }
    }
    // the check above is only informative when some λ lie strictly inside (0, 1)
    expect(interior).toBeGreaterThan(0);
    model.dispose();
  });
});

describe('CCAT end to end', () => {
  it('runExperiment trains and evaluates a tiny CCAT model', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arcal-ccat-'));
    dirs.push(out);
    const r = validateSpec({
      name: 'ccat-tiny',
      seed: 2,
      dataset: { name: 'synthetic', validationSize: 24 },
      model: { arch: 'mlp', hidden: [16] },
      training: { epochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
      method: { kind: 'ccat', ccat: { epsilon: 0.2, steps: 3 } },
      evaluation: { robustnessSubsets: 0 },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const data = tinyData({ shape: [6, 6, 1] });
    const before = tf.memory().numTensors;
    const rep = await runExperiment(r.spec, { outDir: out, data });
    expect(tf.memory().numTensors).toBe(before);
    expect(rep.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of rep.epochs) expect(Number.isFinite(e.trainLoss)).toBe(true);
    expect(rep.final.count).toBe(data.test.n);
    // three classes, well-separated blobs: a trained model is far above chance on clean test data
    expect(rep.final.accuracy).toBeGreaterThan(0.6);
  });
});
