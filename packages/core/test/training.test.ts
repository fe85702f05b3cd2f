import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready, tf } from '../src/backend/index.ts';
import { createModel, getWeights } from '../src/models/index.ts';
import { loadModel, saveModel } from '../src/models/io.ts';
import { learningRateAt, Optimizer } from '../src/training/optimizer.ts';
import { mixBatch, trainMember } from '../src/training/trainer.ts';
import { Rng } from '../src/util/rng.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'arcal-train-'));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  await ready({ backend: 'wasm' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spec(over: Record<string, any> = {}) {
  const r = validateSpec({
    name: 't',
    seed: 5,
    dataset: { name: 'synthetic', validationSize: 24 },
    model: { arch: 'cnn' },
    training: { epochs: 3, batchSize: 16, optimizer: 'adam', learningRate: 0.01, ...(over.training ?? {}) },
    method: over.method ?? { kind: 'adals' },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

describe('optimizers (closed forms)', () => {
  it('SGD with momentum and weight decay follows v ← μv + g + λθ, θ ← θ − lr·v', () => {
    const p = tf.variable(tf.tensor1d([1, -2]));
    const opt = new Optimizer({ kind: 'sgd', momentum: 0.5, weightDecay: 0.1 }, [p]);
    // step 1: g = [1, 1] → g' = [1.1, 0.8]; v = g'; θ = [1 − .11, −2 − .08]
    opt.apply([tf.tensor1d([1, 1])], 0.1);
    expect(Array.from(p.dataSync())).toEqual([expect.closeTo(0.89, 6), expect.closeTo(-2.08, 6)]);
    // step 2: g' = [1 + .089, 1 − .208] = [1.089, .792]; v = .5·[1.1,.8] + g' = [1.639, 1.192]
    opt.apply([tf.tensor1d([1, 1])], 0.1);
    expect(Array.from(p.dataSync())).toEqual([expect.closeTo(0.89 - 0.1639, 6), expect.closeTo(-2.08 - 0.1192, 6)]);
    opt.dispose();
    p.dispose();
  });
  it("Adam's first step moves every coordinate by lr·g/(|g| + ε)", () => {
    const p = tf.variable(tf.tensor1d([0, 0, 0]));
    const opt = new Optimizer({ kind: 'adam', momentum: 0, weightDecay: 0 }, [p]);
    opt.apply([tf.tensor1d([3, -0.5, 1e-3])], 0.01);
    // m̂ = g, v̂ = g² → step = lr·g/(|g| + 1e-8)
    expect(Array.from(p.dataSync())).toEqual([
      expect.closeTo(-0.01, 6),
      expect.closeTo(0.01, 6),
      expect.closeTo(-0.01 * (1e-3 / (1e-3 + 1e-8)), 6),
    ]);
    opt.dispose();
    p.dispose();
  });
  it('schedules: cosine halves at mid-training and reaches 0; step divides by 10 then 100', () => {
    expect(learningRateAt(0.1, 'cosine', 50, 100)).toBeCloseTo(0.05, 12);
    expect(learningRateAt(0.1, 'cosine', 100, 100)).toBeCloseTo(0, 12);
    expect(learningRateAt(0.1, 'step', 49, 100)).toBe(0.1);
    expect(learningRateAt(0.1, 'step', 50, 100)).toBeCloseTo(0.01, 12);
    expect(learningRateAt(0.1, 'step', 75, 100)).toBeCloseTo(0.001, 12);
    expect(learningRateAt(0.1, 'constant', 99, 100)).toBe(0.1);
  });
});

describe('mixup', () => {
  it('mixes inputs and targets with one λ and keeps targets summing to 1', () => {
    const x = Float32Array.from([0, 0, 1, 1]);
    const t = Float32Array.from([1, 0, 0, 1]);
    const lam = mixBatch(x, t, 2, 2, 2, 0.4, new Rng(3));
    // each row becomes λ·own + (1−λ)·partner; with two rows the partner is the row itself or the other one
    for (let i = 0; i < 2; i++) expect(t[2 * i] + t[2 * i + 1]).toBeCloseTo(1, 6);
    for (let i = 0; i < 2; i++) expect(x[2 * i]).toBeCloseTo(t[2 * i + 1], 6); // input value equals weight of class 1
    expect(lam).toBeGreaterThan(0);
    expect(lam).toBeLessThan(1);
  });
});

describe('trainMember', () => {
  it('resuming from a checkpoint gives the same weights as an uninterrupted run', async () => {
    const data = tinyData({ shape: [8, 8, 1] });
    const s = spec();
    const full = await trainMember({ spec: s, data, member: 0, seed: 11 });
    const wFull = getWeights(full.model);
    const dir = tmp();
    const part = await trainMember({ spec: s, data, member: 0, seed: 11, checkpointDir: dir, untilEpoch: 1 });
    part.dispose();
    const resumed = await trainMember({ spec: s, data, member: 0, seed: 11, checkpointDir: dir });
    const wRes = getWeights(resumed.model);
    expect(resumed.epoch).toBe(3);
    expect(resumed.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const [i, w] of wFull.entries()) expect(Array.from(wRes[i])).toEqual(Array.from(w));
    expect(resumed.pTrue).toEqual(full.pTrue);
    full.dispose();
    resumed.dispose();
  });

  it('leaks no tensors', async () => {
    const data = tinyData({ shape: [8, 8, 1] });
    const before = tf.memory().numTensors;
    for (const arch of ['mlp', 'cnn', 'resnet'] as const) {
      const s = { ...spec({ training: { epochs: 1 } }), model: { arch, depth: 8, width: 4, hidden: [16] } };
      const st = await trainMember({ spec: s, data, member: 0, seed: 1 });
      st.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('AdaLS moves p̃ by α·(conf − acc) of the validation set after each epoch (Eq. 3)', async () => {
    const data = tinyData({ shape: [8, 8, 1] });
    const s = spec({ method: { kind: 'adals', alpha: 0.5 } });
    const st = await trainMember({ spec: s, data, member: 0, seed: 2 });
    let p = 1;
    for (const e of st.epochs) {
      const t = e.softLabels!;
      p = Math.min(1, Math.max(1 / 3 + 1e-6, p - 0.5 * (t.valConf[0] - t.valAcc[0])));
      expect(t.pTrue[0]).toBeCloseTo(p, 10);
      // conf and acc here are those of the validation metrics of the same epoch (one subset = whole set)
      expect(t.valAcc[0]).toBeCloseTo(e.validation!.accuracy, 10);
      expect(t.valConf[0]).toBeCloseTo(e.validation!.confidence, 10);
    }
    st.dispose();
  });

  it('label smoothing trains towards 1 − ε + ε/Z and is not adaptive', async () => {
    const data = tinyData({ shape: [8, 8, 1] });
    const s = spec({ method: { kind: 'label-smoothing', epsilon: 0.3 } });
    const st = await trainMember({ spec: s, data, member: 0, seed: 2 });
    expect(st.pTrue).toEqual([1 - 0.3 + 0.3 / 3]);
    expect(st.epochs.every((e) => e.softLabels === undefined)).toBe(true);
    st.dispose();
  });

  it('same seed, same weights; another seed, other weights', () => {
    const c = { arch: 'cnn' as const, inputShape: [8, 8, 1] as [number, number, number], classes: 3 };
    const [a, b, d] = [createModel(c, 1), createModel(c, 1), createModel(c, 2)];
    expect(Array.from(getWeights(a)[0])).toEqual(Array.from(getWeights(b)[0]));
    expect(Array.from(getWeights(a)[0])).not.toEqual(Array.from(getWeights(d)[0]));
    for (const m of [a, b, d]) m.dispose();
  });

  it('exported models load back with the same weights and temperature', async () => {
    const m = createModel({ arch: 'mlp', inputShape: [4, 4, 1], classes: 3, hidden: [8] }, 9);
    const dir = tmp();
    await saveModel(dir, m, { temperature: 1.7 });
    const { model, meta } = await loadModel(dir);
    expect(meta.temperature).toBe(1.7);
    const loaded = getWeights(model);
    for (const [i, w] of getWeights(m).entries()) expect(Array.from(loaded[i])).toEqual(Array.from(w));
    m.dispose();
    model.dispose();
  });
});
