/** Bad inputs, models and options fail with INVALID_INPUT and a message that names the problem, leaking nothing. */

import { isArcalError } from '@arcal/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { type MinimalPerturbationOptions, minimalPerturbation } from '../src/attacks/index.ts';
import { ready, tf } from '../src/backend/index.ts';

const d = 4;
const W = [
  [1, -1, 0.5, 0],
  [-1, 1, 0, 0.5],
  [0, 0, 1, -1],
];
const model = (x: tf.Tensor) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], d]), tf.tensor2d(W), false, true));
const good = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);

beforeAll(async () => {
  await ready({ backend: 'cpu' });
});

async function expectInvalid(p: Promise<unknown>, pattern: RegExp) {
  const before = tf.memory().numTensors;
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isArcalError(err), `expected an ArcalError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe('INVALID_INPUT');
  expect((err as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

const opts = (extra: Partial<MinimalPerturbationOptions & { shape: number[] }> = {}) =>
  ({ attack: 'fmn-l2', steps: 3, shape: [2, d], ...extra }) as MinimalPerturbationOptions & { shape: number[] };

describe('minimalPerturbation rejects', () => {
  it('NaN and Infinity in x, and pixels outside [0,1]', async () => {
    for (const [v, re] of [
      [Number.NaN, /NaN.*finite/],
      [Number.POSITIVE_INFINITY, /Infinity.*finite/],
      [1.5, /\[0, 1\]/],
      [-0.1, /\[0, 1\]/],
    ] as const) {
      const x = good.slice();
      x[5] = v;
      await expectInvalid(minimalPerturbation(model, x, opts()), re);
      await expectInvalid(minimalPerturbation(model, tf.tensor2d(x, [2, d]), opts({ shape: undefined })), re);
    }
  });

  it('wrong shapes', async () => {
    await expectInvalid(minimalPerturbation(model, good, opts({ shape: [3, d] })), /8 values.*needs 12/);
    await expectInvalid(minimalPerturbation(model, good, opts({ shape: [8] })), /shape \[N, \.\.\.image dims\]/);
    await expectInvalid(minimalPerturbation(model, good, opts({ shape: undefined })), /needs opts.shape/);
    // A model for flat [N, 4] inputs given [2, 2, 2]: its own error is reported with the shape.
    const flatOnly = (x: tf.Tensor) => tf.tidy(() => tf.matMul(x as tf.Tensor2D, tf.tensor2d(W), false, true));
    await expectInvalid(
      minimalPerturbation(flatOnly, good, opts({ shape: [2, 2, 2] })),
      /model failed on an input of shape \[2, 2, 2\]/,
    );
  });

  it('model outputs that are not finite 2-D logits', async () => {
    const bad: Array<[(x: tf.Tensor) => tf.Tensor, RegExp]> = [
      [(x) => tf.sum(model(x), 1), /2-D logits \[2, K ≥ 2\] \(got \[2\]\)/],
      [(x) => tf.expandDims(model(x), 2), /2-D logits.*\[2, 3, 1\]/],
      [(x) => tf.slice(model(x), [0, 0], [1, 3]), /2-D logits \[2, K ≥ 2\] \(got \[1, 3\]\)/],
      [(x) => tf.slice(model(x), [0, 0], [2, 1]), /K ≥ 2/],
      [(x) => tf.div(model(x), 0), /returned (Infinity|-Infinity|NaN)/],
    ];
    for (const [m, re] of bad) await expectInvalid(minimalPerturbation(m, good, opts()), re);
    await expectInvalid(
      minimalPerturbation({ apply: () => [model(tf.zeros([2, d]))] }, good, opts()),
      /single logits tensor/,
    );
    await expectInvalid(minimalPerturbation(42 as never, good, opts()), /function x => logits or an object with apply/);
    await expectInvalid(minimalPerturbation(model, good, opts({ outputs: 'probabilities' })), /probabilities/);
  });

  it('unknown attacks and invalid parameters', async () => {
    await expectInvalid(
      minimalPerturbation(model, good, opts({ attack: 'pgd' as never })),
      /attack must be one of cw-l2, fmn-l2, ddn-l2, deepfool-l2/,
    );
    await expectInvalid(minimalPerturbation(model, good, opts({ steps: 0 })), /steps/);
    await expectInvalid(minimalPerturbation(model, good, opts({ batchSize: 2.5 })), /batchSize/);
    await expectInvalid(minimalPerturbation(model, good, opts({ gamma: 1.5 })), /gamma/);
    await expectInvalid(minimalPerturbation(model, good, opts({ learningRate: Number.NaN })), /learningRate/);
    await expectInvalid(minimalPerturbation(model, good, opts({ candidates: 1 })), /candidates/);
    await expectInvalid(minimalPerturbation(model, good, opts({ ddnLoss: 'hinge' as never })), /ddnLoss/);
  });
});
