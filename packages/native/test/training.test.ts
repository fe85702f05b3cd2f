import { describe, expect, it } from 'vitest';
import { nativeBackend, nativeKernelStats } from '../src/index.ts';
import { skipNative, TestRng, tf } from './helpers.ts';

/**
 * A few SGD steps of a small CNN (conv 3×3×8 same + relu → maxpool 2 → conv 3×3×8 stride 2 valid + relu →
 * dense 10) from identical weights and data on 'native' and on the pure-JS 'cpu' backend.
 */
async function sgdLosses(backend: string, steps: number): Promise<number[]> {
  await tf.setBackend(backend);
  const r = new TestRng(21);
  const t = (shape: number[], scale: number) =>
    tf.tensor(
      r.normal(shape.reduce((a, b) => a * b, 1)).map((v) => v * scale),
      shape,
    );
  const v = (shape: number[], scale: number) => {
    const init = t(shape, scale);
    const variable = tf.variable(init);
    init.dispose();
    return variable;
  };
  const w = {
    c1: v([3, 3, 1, 8], 0.4),
    b1: v([8], 0.1),
    c2: v([3, 3, 8, 8], 0.2),
    b2: v([8], 0.1),
    d: v([3 * 3 * 8, 10], 0.2),
    bd: v([10], 0.1),
  };
  const x = t([16, 14, 14, 1], 1) as tf.Tensor4D;
  const labels = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 10);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32'));
  const opt = tf.train.sgd(0.05);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = opt.minimize(() => {
      let h = tf.relu(tf.add(tf.conv2d(x, w.c1 as tf.Tensor4D, 1, 'same'), w.b1)) as tf.Tensor4D;
      h = tf.maxPool(h, 2, 2, 'same');
      h = tf.relu(tf.add(tf.conv2d(h, w.c2 as tf.Tensor4D, 2, 'valid'), w.b2)) as tf.Tensor4D;
      const z = tf.add(tf.matMul(tf.reshape(h, [16, 72]), w.d), w.bd);
      return tf.losses.softmaxCrossEntropy(y, z) as tf.Scalar;
    }, true)!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  tf.dispose([...Object.values(w), x, y]);
  opt.dispose();
  return losses;
}

describe.skipIf(skipNative)('training on native matches the cpu reference', () => {
  it('five SGD steps of a small CNN give the same losses', async () => {
    nativeKernelStats(true);
    const nat = await sgdLosses('native', 5);
    const stats = nativeKernelStats(true);
    const ref = await sgdLosses('cpu', 5);
    for (const k of [
      'Conv2D',
      'Conv2DBackpropInput',
      'Conv2DBackpropFilter',
      'MaxPool',
      'MaxPoolGrad',
      'Relu',
      'Step',
    ]) {
      expect(stats[k]?.native ?? 0, `${k} ran natively`).toBeGreaterThan(0);
    }
    expect(ref[4]).toBeLessThan(ref[0]); // it does train
    for (let i = 0; i < 5; i++) expect(Math.abs(nat[i] - ref[i]) / Math.abs(ref[i])).toBeLessThan(1e-5);
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    await sgdLosses('native', 2);
    expect(tf.memory().numTensors).toBe(before);
    expect(nativeBackend()).toBeDefined();
  });
});
