import { validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import { createModel, ready } from '../src/index.ts';

await ready({ backend: 'cpu' });

const paramCount = (m: ReturnType<typeof createModel>) => m.trainable.reduce((n, v) => n + v.size, 0);

describe('default residual networks', () => {
  it('a spec naming wrn alone resolves to WRN-16-4, not the ResNet-8 that WRN-10-1 would be', () => {
    const v = validateSpec({
      name: 'w',
      dataset: { name: 'synthetic', shape: [32, 32, 3] },
      model: { arch: 'wrn' },
      training: { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 0.1 },
      method: { kind: 'vanilla' },
    });
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    expect([v.spec.model.depth, v.spec.model.width]).toEqual([16, 4]);
  });

  it('the default WRN has the 2.7M parameters Zagoruyko & Komodakis report for WRN-16-4 on CIFAR-10', () => {
    const m = createModel({ arch: 'wrn', inputShape: [32, 32, 3], classes: 10 }, 0);
    try {
      // the published figure is rounded to 0.1M; batch-norm and bias parameters are within that rounding
      expect(paramCount(m) / 1e6).toBeCloseTo(2.7, 1);
    } finally {
      m.dispose();
    }
  });
});
