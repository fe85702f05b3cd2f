/**
 * The attack defaults of the two spec versions (packages/contracts/src/attack-defaults.ts), run through the
 * parameters a resolved spec of each version gives the attacks (attackParamsFor):
 *
 * - both versions pass the closed-form linear oracle (attacks.linear.test.ts's fixtures and bounds);
 * - C&W's learning rate: on a 2-D linear model whose nearest boundary point moves a pixel off exactly 0, the
 *   version-2 rate (0.1, cosine-annealed to 0.001) gets within 2 % of the exact distance, while at version 1's 0.01 the pixel cannot
 *   leave 0 (it starts at |w| ≈ 7.25 in the tanh space and each round restarts there) and the norm is the
 *   distance along the other pixel alone;
 * - C&W's stopping rule: under 'all' every example of a batch runs the same steps, under 'each' some leave early;
 * - DeepFool's running total: on a 2-D piecewise-linear model whose first linearisation pushes a pixel past 0,
 *   the clipped total (version 2) ends within 1 % of the exact distance √0.125, the unclipped one (version 1)
 *   where the hand-computed steps put it, 1.3 % above (the clipped one 0.56 %).
 */
import { ATTACK_DEFAULTS, type AttackName, attackParamsFor, validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttackParams, minimalPerturbation } from '../src/attacks/index.ts';
import { ready, tf } from '../src/backend/index.ts';
import { checkedRun } from './attacks.checks.ts';
import { distanceToClass, type LinearProblem, linearProblem } from './attacks.fixtures.ts';

/** The attack parameters a spec of this version resolves to (no params of its own). */
function paramsOf(version: 1 | 2, attack: AttackName): AttackParams {
  const r = validateSpec({
    name: 'versions',
    version,
    dataset: { name: 'synthetic' },
    model: { arch: 'mlp' },
    training: { epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 1e-3 },
    method: { kind: 'vanilla', robustness: { attack } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  expect(r.spec.version).toBe(version);
  return attackParamsFor(r.spec, attack) as AttackParams;
}

/** A signal never aborted: the attacks then yield to the event loop at every step, so vitest's worker stays responsive. */
const yieldEachStep = () => new AbortController().signal;

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

// C&W with the version-2 (default) parameters is attacks.cw.test.ts; DDN and FMN do not differ by version.
describe.each([
  [1, 'cw-l2'],
  [1, 'deepfool-l2'],
  [2, 'deepfool-l2'],
] as const)('version %i defaults on the linear oracle', (version, attack) => {
  it(`${attack}: orthogonal rows, within 5 % of d*`, async () => {
    const o = await checkedRun(ortho, attack, { ...paramsOf(version, attack), signal: yieldEachStep() });
    for (let i = 0; i < ortho.n; i++) expect(o.norms[i] / ortho.exact[i] - 1).toBeLessThanOrEqual(0.05);
  });
  it(`${attack}: gaussian rows, within 5 % of the distance to the class reached`, async () => {
    const g = await checkedRun(gauss, attack, { ...paramsOf(version, attack), signal: yieldEachStep() });
    for (let i = 0; i < gauss.n; i++) {
      const dj = distanceToClass(gauss, i, g.landed[i]);
      expect(g.norms[i]).toBeGreaterThanOrEqual(dj - 1e-4);
      expect(g.norms[i] / dj - 1).toBeLessThanOrEqual(0.05);
    }
  });
});

it('the versions differ exactly where intended', () => {
  expect(paramsOf(1, 'cw-l2')).toMatchObject({ learningRate: 0.01, learningRateFinalRatio: 1, abortRule: 'each' });
  expect(paramsOf(2, 'cw-l2')).toMatchObject({ learningRate: 0.1, learningRateFinalRatio: 0.01, abortRule: 'all' });
  expect(paramsOf(1, 'deepfool-l2')).toMatchObject({ clipTotal: false });
  expect(paramsOf(2, 'deepfool-l2')).toMatchObject({ clipTotal: true });
  expect(paramsOf(1, 'ddn-l2')).toEqual(paramsOf(2, 'ddn-l2'));
  expect(paramsOf(1, 'fmn-l2')).toEqual(paramsOf(2, 'fmn-l2'));
});

// ---- C&W: a pixel at exactly 0 ----------------------------------------------------------------------------

/**
 * Two pixels, x = (p, q) = (0, 0.5); class 1 wins where g = p + q − 0.56 > 0. The nearest such point moves
 * both pixels by 0.03, distance 0.06/√2 (inside the box); with p held at 0 it is q = 0.56, distance 0.06.
 */
const cornerModel = (x: tf.Tensor) =>
  tf.tidy(() => {
    const [p, q] = tf.split(x, 2, 1);
    const g = tf.sub(tf.add(p, q), 0.56);
    return tf.concat([tf.zerosLike(g), g], 1);
  });

describe('C&W learning rate on a pixel at 0', () => {
  const x = new Float32Array([0, 0.5]);
  const run = (params: AttackParams) =>
    minimalPerturbation(cornerModel, x, { attack: 'cw-l2', ...params, shape: [1, 2], signal: yieldEachStep() });

  it('version 2 (0.1 annealed to 0.001) reaches the exact distance 0.06/√2', async () => {
    const r = await run(paramsOf(2, 'cw-l2'));
    expect(r.success[0]).toBe(1);
    expect(r.norms[0]).toBeGreaterThanOrEqual(0.06 / Math.SQRT2 - 1e-4);
    expect(r.norms[0] / (0.06 / Math.SQRT2) - 1).toBeLessThan(0.02);
  });

  it('version 1 keeps its old result: the pixel at 0 stays put, norm ≈ 0.06', async () => {
    const r = await run(paramsOf(1, 'cw-l2'));
    expect(r.success[0]).toBe(1);
    expect(Math.abs(r.norms[0] / 0.06 - 1)).toBeLessThan(0.01);
  });
});

describe('C&W stopping rule', () => {
  it("'all' runs every example of the batch the same steps; 'each' lets stalled ones leave early", async () => {
    const base = {
      binarySearchSteps: 1,
      steps: 100,
      shape: [gauss.n, gauss.d],
      batchSize: gauss.n,
      signal: yieldEachStep(),
    };
    const all = await minimalPerturbation(gauss.model, gauss.x, { attack: 'cw-l2', ...base, abortRule: 'all' });
    expect(all.exampleIterations).toBe(all.iterations * gauss.n);
    const each = await minimalPerturbation(gauss.model, gauss.x, { attack: 'cw-l2', ...base, abortRule: 'each' });
    expect(each.exampleIterations).toBeLessThan(each.iterations * gauss.n);
  });
});

// ---- DeepFool: a step past the box ------------------------------------------------------------------------

/**
 * Two pixels, x = (p, q), start (0.1, 0.3); class 1 wins where g > 0,
 *   g = −0.6 + q − p − 2·relu(0.05 − p)   (∇g = (−1, 1) for p > 0.05, (1, 1) below).
 * Exact distance: both pieces' nearest points lie on the other side of the kink, so the nearest point of
 * {g ≥ 0} is the kink's (0.05, 0.65), at √(0.05² + 0.35²) = √0.125.
 * DeepFool (η = 0.02) by hand: step 1 along (−1, 1) by 0.20005 lands at p = 0 (clipped) with g = −0.196;
 * step 2 along (1, 1) by 0.0980. Unclipped total: p's excess of −0.1 cancels it, p stays at 0, and two more
 * steps along (1, 1) stop at (0.04602, 0.65412), norm 0.35821. Clipped total: p moves to 0.098, one step
 * along (−1, 1) stops at (0.05002, 0.652001), norm 0.355532.
 */
const kinkModel = (x: tf.Tensor) =>
  tf.tidy(() => {
    const [p, q] = tf.split(x, 2, 1);
    const g = tf.sub(tf.sub(tf.sub(q, p), 0.6), tf.mul(tf.relu(tf.sub(0.05, p)), 2));
    return tf.concat([tf.zerosLike(g), g], 1);
  });

describe('DeepFool running total at the box', () => {
  const x = new Float32Array([0.1, 0.3]);
  const exact = Math.sqrt(0.125);
  const run = (params: AttackParams) =>
    minimalPerturbation(kinkModel, x, { attack: 'deepfool-l2', ...params, shape: [1, 2] });

  it('version 2 (clipped total) ends within 1 % of the exact distance', async () => {
    const r = await run(paramsOf(2, 'deepfool-l2'));
    expect(r.success[0]).toBe(1);
    expect(r.norms[0]).toBeGreaterThanOrEqual(exact - 1e-6);
    expect(r.norms[0] / exact - 1).toBeLessThan(0.01);
    expect(r.norms[0]).toBeCloseTo(0.35553, 4);
  });

  it('version 1 (unclipped total) keeps its old result', async () => {
    const r = await run(paramsOf(1, 'deepfool-l2'));
    expect(r.success[0]).toBe(1);
    expect(r.norms[0]).toBeCloseTo(0.35821, 4);
  });
});

it('the version tables hold every attack', () => {
  for (const v of [1, 2] as const)
    for (const a of ['cw-l2', 'fmn-l2', 'ddn-l2', 'deepfool-l2'] as const) expect(ATTACK_DEFAULTS[v][a]).toBeDefined();
});
