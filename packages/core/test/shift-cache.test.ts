/**
 * The corrupted-set cache: a set is made once per (source, seed, key) and returned as made; another seed or
 * source empties it; sets past the byte cap are returned but not kept. And through evaluateShiftAndOod: a second
 * evaluation of the same seed's test images with the cache on gives the same shift rows without corrupting again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { runExperiment } from '../src/experiment/run.ts';
import { ShiftCache, shiftCache } from '../src/experiment/shift-cache.ts';
import { loadModel } from '../src/models/io.ts';
import { tinyData } from './helpers/tiny-data.ts';
import { handShiftAccuracy } from './shift-helpers.ts';

describe('ShiftCache', () => {
  const set = (v: number, n = 4) => new Float32Array(n).fill(v);

  it('makes a set once per source, seed and key', () => {
    const c = new ShiftCache(1 << 20);
    const src = {};
    let made = 0;
    const make = () => {
      made++;
      return set(made);
    };
    const a = c.get(src, 0, 'fog/1', make);
    const b = c.get(src, 0, 'fog/1', make);
    expect(b).toBe(a);
    expect(made).toBe(1);
    c.get(src, 0, 'fog/2', make);
    expect(made).toBe(2);
    expect(c.stats()).toEqual({ hits: 1, misses: 2, bytes: 32, entries: 2 });
  });

  it('another seed or another source array starts afresh', () => {
    const c = new ShiftCache(1 << 20);
    const src = {};
    c.get(src, 0, 'k', () => set(1));
    expect(c.get(src, 1, 'k', () => set(2))[0]).toBe(2);
    expect(c.stats().entries).toBe(1);
    expect(c.get({}, 1, 'k', () => set(3))[0]).toBe(3);
    expect(c.get(src, 0, 'k', () => set(4))[0]).toBe(4);
    expect(c.stats().hits).toBe(0);
  });

  it('keeps no more than its cap; a set that does not fit is returned uncached', () => {
    const c = new ShiftCache(40); // room for one set of 8 floats (32 bytes), not two
    const src = {};
    c.get(src, 0, 'a', () => set(1, 8));
    const big = c.get(src, 0, 'b', () => set(2, 8));
    expect(big[0]).toBe(2);
    expect(c.stats()).toMatchObject({ entries: 1, bytes: 32 });
    expect(c.get(src, 0, 'b', () => set(3, 8))[0]).toBe(3);
    expect(new ShiftCache(0).get(src, 0, 'a', () => set(5)).length).toBe(4);
  });
});

describe('evaluation with the cache on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arcal-shift-cache-'));
  const before = process.env.ARCAL_SHIFT_CACHE_MB;
  afterEach(() => {
    if (before === undefined) delete process.env.ARCAL_SHIFT_CACHE_MB;
    else process.env.ARCAL_SHIFT_CACHE_MB = before;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a second experiment of the same seed reuses the corrupted sets, and its metrics are those of a fresh set', async () => {
    process.env.ARCAL_SHIFT_CACHE_MB = '16';
    await ready({ backend: 'wasm' });
    const data = tinyData({ shape: [6, 6, 1], n: 96 });
    const spec = (epochs: number) => {
      const r = validateSpec({
        name: 'shift-cache',
        seed: 4,
        dataset: { name: 'synthetic', validationSize: 24 },
        model: { arch: 'mlp', hidden: [8] },
        training: { epochs, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
        method: { kind: 'vanilla' },
        evaluation: { robustnessSubsets: 0, corruptions: ['gaussian_noise'], severities: [2, 5], shiftLimit: 9 },
      });
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.spec;
    };
    await runExperiment(spec(1), { outDir: join(dir, 'a'), data });
    const after1 = shiftCache().stats();
    expect(after1).toMatchObject({ misses: 2, entries: 2 });
    // another model (two epochs) of the same seed: both sets come from the cache
    const report = await runExperiment(spec(2), { outDir: join(dir, 'b'), data });
    expect(shiftCache().stats()).toMatchObject({ hits: after1.hits + 2, misses: 2 });
    // each row equals the accuracy of the second model on a freshly made corrupted subset
    const rows = (report as unknown as { shift: { rows: Array<{ accuracy: number; severity: number }> } }).shift.rows;
    const { model } = await loadModel(join(dir, 'b', 'model'));
    for (const row of rows)
      expect(row.accuracy).toBeCloseTo(
        handShiftAccuracy(model, data.test, [6, 6, 1], 9, 'gaussian_noise', row.severity, 4 + row.severity),
        12,
      );
  });
});
