/**
 * Attacks against the closed-form answers of linear classifiers (attacks.fixtures.ts).
 *
 * Orthogonal equal-norm rows: every ‖w_ŷ − w_j‖ is equal, so the nearest boundary is the runner-up class's;
 * with default parameters every attack must land within 5 % of the exact distance d*, never below it.
 * Gaussian rows: the nearest boundary may belong to a class with a lower logit than the runner-up, which
 * margin-following attacks (C&W, FMN, DDN) do not head for. There every attack must still be ≥ d* − 1e-4,
 * and within 5 % of the exact distance d_j to the half-space {z_j ≥ z_ŷ} of the class j it landed in (a
 * lower bound for any point of that class's region); DeepFool, which linearises all classes, within 5 % of d*.
 * Each returned example lies in [0,1], flips the model's argmax and has exactly the reported norm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttackName } from '../src/attacks/index.ts';
import { ready } from '../src/backend/index.ts';
import { checkedRun } from './attacks.checks.ts';
import { distanceToClass, type LinearProblem, linearProblem } from './attacks.fixtures.ts';

const attacks: AttackName[] = ['deepfool-l2', 'fmn-l2', 'ddn-l2'];
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

describe.each(attacks)('%s on linear classifiers', (attack) => {
  it('orthogonal rows: within 5 % of the exact minimal distance, never below it', async () => {
    const { norms } = await checkedRun(ortho, attack);
    for (let i = 0; i < ortho.n; i++) expect(norms[i] / ortho.exact[i] - 1).toBeLessThanOrEqual(0.05);
  });

  it('gaussian rows: never below d*, within 5 % of the distance to the class reached', async () => {
    const { norms, landed } = await checkedRun(gauss, attack);
    for (let i = 0; i < gauss.n; i++) {
      const dj = distanceToClass(gauss, i, landed[i]);
      expect(norms[i]).toBeGreaterThanOrEqual(dj - 1e-4);
      expect(norms[i] / dj - 1).toBeLessThanOrEqual(0.05);
      if (attack === 'deepfool-l2') expect(norms[i] / gauss.exact[i] - 1).toBeLessThanOrEqual(0.05);
    }
  });
});

it('the gaussian fixture does contain examples whose nearest boundary is not the runner-up class', () => {
  let count = 0;
  for (let i = 0; i < gauss.n; i++) {
    const z = gauss.logits64(gauss.x.subarray(i * gauss.d, (i + 1) * gauss.d));
    const order = Array.from(z.keys()).sort((a, b) => z[b] - z[a]);
    if (distanceToClass(gauss, i, order[1]) > gauss.exact[i] * (1 + 1e-9)) count++;
  }
  expect(count).toBeGreaterThan(0);
});
