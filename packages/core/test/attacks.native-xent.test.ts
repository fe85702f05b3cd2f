/**
 * DDN with the published cross-entropy loss (ddnLoss 'ce') on the `native` backend, where the loss is one native
 * kernel with its own gradient (@arcal/native's softmaxCrossEntropyRows), against the same attack on `cpu`, where
 * it is the tf-op formula differentiated by tfjs: every example a valid adversarial no closer than the exact
 * distance, no leaked tensors (checkedRun), and the same norms up to float32 rounding along the iterates.
 */
import { nativeKernelStats } from '@arcal/native';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { checkedRun } from './attacks.checks.ts';
import { type LinearProblem, linearProblem } from './attacks.fixtures.ts';
import { skipWithoutNative } from './native-compare.ts';

const skip = await skipWithoutNative('native cross-entropy attack tests');

let ortho: LinearProblem;
beforeAll(() => {
  ortho = linearProblem(11, { n: 32, d: 32, rows: 'orthogonal', minDist: 0.05 });
});
afterAll(() => ortho.dispose());

describe.skipIf(skip)('DDN with the cross-entropy loss on native', () => {
  it('runs the loss natively and finds the norms the cpu backend finds', async () => {
    await ready({ backend: 'native' });
    nativeKernelStats(true);
    const nat = await checkedRun(ortho, 'ddn-l2', { ddnLoss: 'ce' });
    const stats = nativeKernelStats(true);
    expect(stats.ArcalSoftmaxXent?.native ?? 0).toBeGreaterThan(0);
    expect(stats.ArcalSoftmaxXentGrad?.fallback ?? 0).toBe(0);
    expect(stats.ArcalSoftmaxXentGrad?.native).toBe(stats.ArcalSoftmaxXent?.native);
    await ready({ backend: 'cpu' });
    const ref = await checkedRun(ortho, 'ddn-l2', { ddnLoss: 'ce' });
    for (let i = 0; i < ortho.n; i++)
      expect(Math.abs(nat.norms[i] / ref.norms[i] - 1), `example ${i}`).toBeLessThan(1e-3);
  });
});
