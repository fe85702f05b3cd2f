import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import type { ExperimentData } from '../src/data/types.ts';
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

const spec = (training: Record<string, unknown> = {}) => {
  const r = validateSpec({
    name: 'sel',
    seed: 2,
    dataset: { name: 'synthetic', validationSize: 24 },
    model: { arch: 'mlp', hidden: [8] },
    training: { epochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.01, ...training },
    method: { kind: 'adals', alpha: 0.5 },
    evaluation: { robustnessSubsets: 0 },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
};

const out = () => {
  const d = mkdtempSync(join(tmpdir(), 'arcal-sel-'));
  dirs.push(d);
  return d;
};

describe('the selection split in a run', () => {
  it('is reported per epoch and for the final model, and changes nothing that trains', async () => {
    const plain = tinyData({ shape: [6, 6, 1] });
    // a distinct draw (another seed) as the selection split
    const extra = tinyData({ shape: [6, 6, 1], seed: 9, n: 40 });
    const withSel: ExperimentData = { ...plain, selection: extra.train };
    const a = await runExperiment(spec(), { outDir: out(), data: plain });
    const dirB = out();
    const b = await runExperiment(spec(), { outDir: dirB, data: withSel });

    // Eq. 3's update, the training and the test metrics are those of the run without a selection split
    expect(b.epochs.map((e) => e.softLabels)).toEqual(a.epochs.map((e) => e.softLabels));
    expect(b.epochs.map((e) => e.validation)).toEqual(a.epochs.map((e) => e.validation));
    expect(b.final).toEqual(a.final);
    expect(a.selection).toBeUndefined();
    expect(a.epochs.every((e) => e.selection === undefined)).toBe(true);

    // the final model's selection metrics, recomputed by hand from the exported model
    const { model } = await loadModel(join(dirB, 'model'));
    const p = predictProbabilities(model, extra.train.x, extra.train.n);
    model.dispose();
    let correct = 0;
    let nll = 0;
    for (let i = 0; i < extra.train.n; i++) {
      const row = Array.from(p.subarray(i * 3, i * 3 + 3));
      const pred = row.indexOf(Math.max(...row));
      if (pred === extra.train.y[i]) correct++;
      nll -= Math.log(row[extra.train.y[i]]);
    }
    expect(b.selection!.count).toBe(extra.train.n);
    expect(b.selection!.accuracy).toBeCloseTo(correct / extra.train.n, 12);
    expect(b.selection!.nll).toBeCloseTo(nll / extra.train.n, 5);
    expect(b.dataset.selection).toBe(extra.train.n);
    // the last epoch's record saw the same (final) weights
    expect(b.epochs.at(-1)!.selection!.accuracy).toBeCloseTo(correct / extra.train.n, 12);
    expect(b.epochs.every((e) => e.selection?.count === extra.train.n)).toBe(true);
  });

  it('best-val keeps the epoch with the lowest selection NLL when there is a selection split', async () => {
    const data = tinyData({ shape: [6, 6, 1] });
    // a selection split whose labels are rotated (y + 1 mod 3): the better the model fits, the worse its NLL
    // there, while validation NLL falls, so the two splits pick different epochs
    const rotated = { ...data.train, y: Int32Array.from(data.train.y, (y) => (y + 1) % 3) };
    const dir = out();
    const rep = await runExperiment(spec({ epochs: 4, checkpoint: 'best-val' }), {
      outDir: dir,
      data: { ...data, selection: rotated },
    });
    const argmin = (xs: number[]) => xs.indexOf(Math.min(...xs));
    const bySel = argmin(rep.epochs.map((e) => e.selection!.nll));
    const byVal = argmin(rep.epochs.map((e) => e.validation!.nll));
    expect(bySel).not.toBe(byVal);
    // the kept weights are that epoch's: the final selection metrics are its record's
    expect(rep.selection!.nll).toBeCloseTo(rep.epochs[bySel].selection!.nll, 10);
    expect(rep.selection!.accuracy).toBe(rep.epochs[bySel].selection!.accuracy);
  });
});
