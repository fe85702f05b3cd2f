import { readFileSync } from 'node:fs';
import { validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import { estimateCost, forwardMacs } from '../src/estimate.ts';

const spec = (over: Record<string, any>) => {
  const v = validateSpec({
    name: 'x',
    dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], trainLimit: 100, validationSize: 20, testLimit: 10 },
    model: { arch: 'mlp', hidden: [5] },
    training: { epochs: 2, batchSize: 10, optimizer: 'sgd', learningRate: 0.1 },
    method: { kind: 'vanilla' },
    ...over,
  });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
};

describe('estimateCost', () => {
  it('counts an MLP by hand: 16·5 + 5·3 multiply-adds, 3 passes per training example', () => {
    const s = spec({});
    expect(forwardMacs(s)).toBe(16 * 5 + 5 * 3);
    const e = estimateCost(s, { workerFlops: 1, budgetSeconds: 1e12 });
    const fwd = 2 * 95;
    // training: 3·fwd·100 examples·2 epochs + validation forward 20·2; evaluation: test forward 10 + attack on test (50 steps × 3 fwd)
    expect(e.flops.training).toBe(3 * fwd * 100 * 2 + fwd * 20 * 2);
    expect(e.flops.evaluation).toBe(fwd * 10 + 3 * fwd * 50 * 10);
    expect(e.seconds).toBe(e.flops.total);
  });

  it('counts the reference CNN on 8×8×1 by its layers', () => {
    const s = spec({
      model: { arch: 'cnn' },
      dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 10, validationSize: 0 },
    });
    expect(forwardMacs(s)).toBe(8 * 8 * 9 * 32 + 4 * 4 * 9 * 32 * 64 + 2 * 2 * 64 * 128 + 128 * 4);
  });

  it('the paper-scale example is far over the default budget, the laptop-scale examples are under it', () => {
    const load = (n: string) => {
      const v = validateSpec(JSON.parse(readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8')));
      if (!v.ok) throw new Error(n);
      return estimateCost(v.spec, { workerFlops: 2e9, budgetSeconds: 86400 });
    };
    expect(load('paper-cifar10.json').seconds).toBeGreaterThan(100 * 86400);
    for (const n of ['vanilla-synthetic.json', 'ar-adals-fashion.json', 'ensemble-joint.json'])
      expect(load(n).seconds).toBeLessThan(86400);
  });
});
