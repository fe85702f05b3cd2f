/**
 * Carlini & Wagner L2 against the closed-form answers of linear classifiers (see attacks.linear.test.ts for
 * the two fixtures and what each checks). Kept in its own file: with default parameters C&W runs up to
 * 9 × 200 Adam steps per batch, a few seconds on the cpu backend.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { checkedRun } from './attacks.checks.ts';
import { distanceToClass, type LinearProblem, linearProblem } from './attacks.fixtures.ts';

let ortho: LinearProblem;
let gauss: LinearProblem;
beforeAll(async () => {
  await ready({ backend: 'cpu' });
  ortho = linearProblem(11, { n: 32, d: 32, rows: 'orthogonal', minDist: 0.05 });
  gauss = linearProblem(15, { n: 32, d: 32, minDist: 0.05 });
});
afterAll(() => {
  ortho.dispose();
  gauss.dispose();
});

it('orthogonal rows: within 5 % of the exact minimal distance, never below it', async () => {
  const { norms } = await checkedRun(ortho, 'cw-l2');
  for (let i = 0; i < ortho.n; i++) expect(norms[i] / ortho.exact[i] - 1).toBeLessThanOrEqual(0.05);
});

it('gaussian rows: never below d*, within 5 % of the distance to the class reached', async () => {
  const { norms, landed } = await checkedRun(gauss, 'cw-l2');
  for (let i = 0; i < gauss.n; i++) {
    const dj = distanceToClass(gauss, i, landed[i]);
    expect(norms[i]).toBeGreaterThanOrEqual(dj - 1e-4);
    expect(norms[i] / dj - 1).toBeLessThanOrEqual(0.05);
  }
});
