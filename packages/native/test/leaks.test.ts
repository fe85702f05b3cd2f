import { describe, expect, it } from 'vitest';
import { conv2dBiasAct, denseBiasAct, nativeBackend } from '../src/index.ts';
import { skipNative, TestRng, tf } from './helpers.ts';

/**
 * 1,000 SGD steps of a small CNN built from the fused native layers (conv + bias + relu, max-pool, dense) with
 * every native kernel in play (large enough tensors for the native element-wise paths): the tensor count and
 * bytes held by tfjs must not grow at all after warm-up, and the process's resident memory must stay flat (a
 * leaked buffer per step would be ≥ 1,000 × 100 KB here).
 */
describe.skipIf(skipNative)('native backend over 1,000 training steps', () => {
  it('leaks no tensors, no pooled buffers and no resident memory', { timeout: 120_000 }, async () => {
    await tf.setBackend('native');
    const r = new TestRng(7);
    const v = (shape: number[], scale: number) => {
      const t = tf.tensor(
        r.normal(shape.reduce((a, b) => a * b, 1)).map((x) => x * scale),
        shape,
      );
      const variable = tf.variable(t);
      t.dispose();
      return variable;
    };
    const w1 = v([3, 3, 1, 16], 0.3);
    const b1 = v([16], 0.1);
    const w2 = v([8 * 8 * 16, 10], 0.05);
    const b2 = v([10], 0.1);
    const x = tf.tensor(r.normal(32 * 16 * 16), [32, 16, 16, 1]) as tf.Tensor4D;
    const labels = tf.tensor1d(
      Int32Array.from({ length: 32 }, (_, i) => i % 10),
      'int32',
    );
    const y = tf.cast(tf.oneHot(labels, 10), 'float32');
    labels.dispose();
    const opt = tf.train.sgd(0.01);
    const step = () => {
      const loss = opt.minimize(() => {
        const h = conv2dBiasAct(x, w1 as tf.Tensor4D, b1 as tf.Tensor1D, 1, 'same', true);
        const p = tf.maxPool(h, 2, 2, 'valid');
        const z = denseBiasAct(tf.reshape(p, [32, -1]) as tf.Tensor2D, w2 as tf.Tensor2D, b2 as tf.Tensor1D, false);
        return tf.losses.softmaxCrossEntropy(y, z) as tf.Scalar;
      }, true)!;
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    };
    for (let i = 0; i < 100; i++) step();
    const mem0 = tf.memory();
    const rss0 = process.memoryUsage().rss;
    const alloc0 = nativeBackend()!.pool.stats().allocated;
    let first = Number.NaN;
    let last = Number.NaN;
    for (let i = 0; i < 900; i++) {
      last = step();
      if (i === 0) first = last;
      // let the event loop run now and then (the steps are synchronous)
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    const mem1 = tf.memory();
    const rss1 = process.memoryUsage().rss;
    expect(last).toBeLessThan(first); // it trains, so the loop really ran the gradient path
    expect(mem1.numTensors).toBe(mem0.numTensors);
    expect(mem1.numBytes).toBe(mem0.numBytes);
    expect(rss1 - rss0).toBeLessThan(64 * 1024 * 1024);
    // the pool recycles: it holds a bounded amount, not one buffer per step
    const stats = nativeBackend()!.pool.stats();
    expect(stats.pooledBytes).toBeLessThan(64 * 1024 * 1024);
    expect(stats.allocated - alloc0).toBeLessThan(100); // ~10 native outputs per step come from the pool
    expect(stats.reused).toBeGreaterThan(900);
    tf.dispose([w1, b1, w2, b2, x, y]);
    opt.dispose();
  });
});
