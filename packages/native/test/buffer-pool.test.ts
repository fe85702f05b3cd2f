import { describe, expect, it } from 'vitest';
import { poolBytes } from '../src/backend.ts';
import { BufferPool, nativeBackend } from '../src/index.ts';
import { skipNative, TestRng, tf } from './helpers.ts';

describe('BufferPool bookkeeping', () => {
  it('reuses a released buffer of the same length', () => {
    const p = new BufferPool();
    const a = p.take(100);
    p.retain(a);
    p.release(a);
    expect(p.isPooled(a)).toBe(true);
    expect(p.take(100)).toBe(a);
    expect(p.take(100)).not.toBe(a);
    expect(p.stats()).toMatchObject({ allocated: 2, reused: 1 });
  });

  it('never reuses an exposed buffer', () => {
    const p = new BufferPool();
    const a = p.take(10);
    p.retain(a);
    p.expose(a);
    p.release(a);
    expect(p.isPooled(a)).toBe(false);
    expect(p.take(10)).not.toBe(a);
  });

  it('keeps a buffer while any view of it is stored, and ignores foreign arrays', () => {
    const p = new BufferPool();
    const a = p.take(10);
    const view = a.subarray(2, 6);
    p.retain(a);
    p.retain(view);
    p.release(a);
    expect(p.isPooled(a)).toBe(false);
    p.release(view);
    expect(p.isPooled(a)).toBe(true);
    const foreign = new Float32Array(10);
    p.retain(foreign);
    p.release(foreign);
    expect(p.isPooled(foreign)).toBe(false);
  });

  it('holds at most maxBytes idle', () => {
    const p = new BufferPool(100 * 4);
    const a = p.take(60),
      b = p.take(60);
    for (const x of [a, b]) {
      p.retain(x);
      p.release(x);
    }
    expect(p.isPooled(a)).toBe(true);
    expect(p.isPooled(b)).toBe(false);
    expect(p.stats().pooledBytes).toBe(240);
  });
});

describe.skipIf(skipNative)('buffer recycling on the native backend never hands out live data', () => {
  const n = 64 * 128; // above the elementwise threshold, so Relu runs natively into pool buffers
  const relu = (v: Float32Array) => v.map((x) => Math.max(0, x));

  it('recycles disposed kernel outputs', async () => {
    await tf.setBackend('native');
    const pool = nativeBackend()!.pool;
    const x = tf.tensor(new TestRng(1).normal(n), [64, 128]);
    tf.relu(x).dispose();
    const reused = pool.stats().reused;
    tf.relu(x).dispose();
    expect(pool.stats().reused).toBe(reused + 1);
    x.dispose();
  });

  it('an array returned by dataSync keeps its values after its tensor is disposed', async () => {
    await tf.setBackend('native');
    const data = new TestRng(2).normal(n);
    const x = tf.tensor(data, [64, 128]);
    const y = tf.relu(x);
    const seen = y.dataSync() as Float32Array;
    y.dispose();
    for (let i = 0; i < 5; i++) tf.relu(tf.neg(x)).dispose(); // same-size outputs that would reuse it
    expect(nativeBackend()!.pool.isPooled(seen)).toBe(false);
    expect(Array.from(seen)).toEqual(Array.from(relu(data)));
    x.dispose();
  });

  it('a slice view and a reshape outlive the tensor they came from', async () => {
    await tf.setBackend('native');
    const data = new TestRng(3).normal(n);
    const x = tf.tensor(data, [64, 128]);
    const y = tf.relu(x);
    const top = tf.slice(y, [0, 0], [32, 128]); // contiguous: tfjs's cpu Slice returns a view of y's array
    const flat = tf.reshape(y, [n]); // shares y's data
    y.dispose();
    for (let i = 0; i < 5; i++) tf.relu(tf.neg(x)).dispose();
    const expected = relu(data);
    expect(Array.from(top.dataSync())).toEqual(Array.from(expected.subarray(0, 32 * 128)));
    expect(Array.from(flat.dataSync())).toEqual(Array.from(expected));
    tf.dispose([x, top, flat]);
  });

  it('no live tensor of a training step sits in the pool', async () => {
    await tf.setBackend('native');
    const backend = nativeBackend()!;
    const r = new TestRng(4);
    const w = tf.variable(tf.tensor(r.normal(3 * 3 * 4 * 8), [3, 3, 4, 8]));
    const x = tf.tensor(r.normal(4 * 16 * 16 * 4), [4, 16, 16, 4]) as tf.Tensor4D;
    const opt = tf.train.sgd(0.01);
    const kept: tf.Tensor[] = [];
    for (let s = 0; s < 4; s++) {
      opt.minimize(() => tf.sum(tf.square(tf.relu(tf.conv2d(x, w as tf.Tensor4D, 1, 'same')))));
      kept.push(tf.relu(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'))); // live outputs interleaved with disposed ones
    }
    expect(backend.pool.stats().reused).toBeGreaterThan(0);
    for (const t of [...kept, w]) {
      const values = (backend.data.get(t.dataId) as { values: Float32Array }).values;
      expect(backend.pool.isPooled(values)).toBe(false);
    }
    // The last kept output still equals a fresh recomputation.
    const again = tf.relu(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'));
    expect(Array.from(kept[3].dataSync())).not.toEqual(Array.from(kept[0].dataSync()));
    expect(Array.from(again.dataSync())).toEqual(Array.from(kept[3].dataSync()));
    tf.dispose([...kept, again, w, x]);
    opt.dispose();
  });
});

describe('the native backend pool bound', () => {
  it('is ARCAL_NATIVE_POOL_MB mebibytes, 1024 when unset or not a non-negative number', () => {
    expect(poolBytes({})).toBe(1024 * 1048576);
    expect(poolBytes({ ARCAL_NATIVE_POOL_MB: '300' })).toBe(300 * 1048576);
    expect(poolBytes({ ARCAL_NATIVE_POOL_MB: '0' })).toBe(0);
    expect(poolBytes({ ARCAL_NATIVE_POOL_MB: '' })).toBe(1024 * 1048576);
    expect(poolBytes({ ARCAL_NATIVE_POOL_MB: 'lots' })).toBe(1024 * 1048576);
    expect(poolBytes({ ARCAL_NATIVE_POOL_MB: '-5' })).toBe(1024 * 1048576);
  });
});
