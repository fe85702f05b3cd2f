import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready, tf } from '../src/backend/index.ts';
import { runExperiment } from '../src/experiment/run.ts';
import { predictProbabilities } from '../src/models/index.ts';
import { loadModel } from '../src/models/io.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await ready({ backend: 'wasm' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spec(
  method: Record<string, unknown>,
  ensemble: Record<string, unknown>,
  evaluation: Record<string, unknown> = {},
) {
  const r = validateSpec({
    name: 'exp',
    seed: 3,
    dataset: { name: 'synthetic', validationSize: 24 },
    model: { arch: 'mlp', hidden: [16] },
    training: { epochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
    method,
    ensemble,
    evaluation: { robustnessSubsets: 3, ...evaluation },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

describe('runExperiment', () => {
  it('AR-AdaLS of Ensemble: one shared table driven by the averaged validation prediction (Eq. 3 per subset)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arcal-exp-'));
    dirs.push(out);
    const s = spec(
      { kind: 'ar-adals', subsets: 3, alpha: 1, robustness: { attack: 'deepfool-l2', source: 'precompute' } },
      { members: 2, mode: 'joint' },
    );
    const before = tf.memory().numTensors;
    const rep = await runExperiment(s, { outDir: out, data: tinyData({ shape: [6, 6, 1] }) });
    expect(tf.memory().numTensors).toBe(before);
    const ens = rep.epochs.filter((e) => e.member === 'ensemble');
    expect(ens).toHaveLength(2);
    let p = [1, 1, 1];
    for (const e of ens) {
      const t = e.softLabels!;
      p = p.map((v, r) => Math.min(1, Math.max(1 / 3 + 1e-6, v - (t.valConf[r] - t.valAcc[r]))));
      t.pTrue.forEach((v, r) => {
        expect(v).toBeCloseTo(p[r], 10);
      });
      // every member trained epoch e with the table of epoch e − 1
      const members = rep.epochs.filter((m) => m.member !== 'ensemble' && m.epoch === e.epoch);
      expect(members).toHaveLength(2);
      for (const m of members) expect(m.softLabels!.pTrue).toEqual(members[0].softLabels!.pTrue);
    }
    expect(rep.members).toHaveLength(2);
    expect(rep.variance).toBeGreaterThanOrEqual(0);
    expect(rep.bySubset.map((b) => b.count)).toEqual([8, 8, 8]);
    // σ² is a mean over examples, so the count-weighted mean of the subsets' σ² is the overall σ²
    const weighted = rep.bySubset.reduce((s, b) => s + b.variance! * b.count, 0) / 24;
    expect(weighted).toBeCloseTo(rep.variance!, 12);
    // single models have no per-subset variance
    expect(rep.members[0].bySubset![0].variance).toBeUndefined();
    // subsets are ordered by robustness
    for (let i = 1; i < rep.bySubset.length; i++)
      expect(rep.bySubset[i].minRobustness).toBeGreaterThanOrEqual(rep.bySubset[i - 1].maxRobustness);
    const onDisk = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(onDisk.final.accuracy).toBe(rep.final.accuracy);
    // training-split fit: the exported members, averaged, re-evaluated on the training split by hand
    const data = tinyData({ shape: [6, 6, 1] });
    const probs = [];
    for (const m of [0, 1]) {
      const { model } = await loadModel(join(out, 'models', `m${m}`));
      probs.push(predictProbabilities(model, data.train.x, data.train.n));
      model.dispose();
    }
    let correct = 0;
    for (let i = 0; i < data.train.n; i++) {
      let best = 0;
      for (let k = 1; k < 3; k++)
        if (probs[0][i * 3 + k] + probs[1][i * 3 + k] > probs[0][i * 3 + best] + probs[1][i * 3 + best]) best = k;
      if (best === data.train.y[i]) correct++;
    }
    expect(rep.train!.count).toBe(data.train.n);
    expect(rep.train!.accuracy).toBeCloseTo(correct / data.train.n, 12);
  });

  it('temperature scaling stores its fitted T and vanilla omits bySubset when R = 0, saying why', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arcal-exp-'));
    dirs.push(out);
    const rep = await runExperiment(spec({ kind: 'temperature-scaling' }, { members: 1 }, { robustnessSubsets: 0 }), {
      outDir: out,
      data: tinyData({ shape: [6, 6, 1] }),
    });
    expect(rep.members[0].temperature).toBeGreaterThan(0);
    expect(rep.bySubset).toEqual([]);
    expect(rep.notes.some((n) => n.includes('robustnessSubsets is 0'))).toBe(true);
  });
});
