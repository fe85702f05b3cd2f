/**
 * FMN-L2 on the `native` backend, where the box-feasible gradient is one native kernel (@arcal/native's
 * boxFeasibleGradient), against the same attack on `cpu`, where it is the tf-op selection: the kernel runs at every
 * step and never falls back, every example is a valid adversarial no closer than the exact distance, no tensors
 * leak (checkedRun), and the norms agree up to the float32 rounding of the other native kernels along the iterates.
 */
import { nativeKernelStats } from '@arcal/native';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { checkedRun } from './attacks.checks.ts';
import { type LinearProblem, linearProblem } from './attacks.fixtures.ts';
import { skipWithoutNative } from './native-compare.ts';

const skip = await skipWithoutNative('native FMN attack tests');

let ortho: LinearProblem;
beforeAll(() => {
  ortho = linearProblem(13, { n: 32, d: 32, rows: 'orthogonal', minDist: 0.05 });
});
afterAll(() => ortho.dispose());

describe.skipIf(skip)('FMN-L2 on native', () => {
  it('runs the box-feasible gradient natively and finds the norms the cpu backend finds', async () => {
    await ready({ backend: 'native' });
    nativeKernelStats(true);
    const nat = await checkedRun(ortho, 'fmn-l2', {});
    const stats = nativeKernelStats(true);
    expect(stats.ArcalBoxFeasibleGradient?.native ?? 0).toBeGreaterThan(0);
    expect(stats.ArcalBoxFeasibleGradient?.fallback ?? 0).toBe(0);
    await ready({ backend: 'cpu' });
    const ref = await checkedRun(ortho, 'fmn-l2', {});
    for (let i = 0; i < ortho.n; i++)
      expect(Math.abs(nat.norms[i] / ref.norms[i] - 1), `example ${i}`).toBeLessThan(1e-3);
  });
});
