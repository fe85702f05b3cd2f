import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { createModel, getWeights, type Model } from '../src/models/index.ts';
import { checkpointEpochOf, loadCheckpoint, saveCheckpoint } from '../src/training/checkpoint.ts';
import { Optimizer } from '../src/training/optimizer.ts';

const root = mkdtempSync(join(tmpdir(), 'arcal-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await ready({ backend: 'cpu' });
});

const config = { arch: 'mlp' as const, inputShape: [4, 4, 1] as [number, number, number], classes: 3, hidden: [5] };
const fresh = (seed: number): { model: Model; opt: Optimizer } => {
  const model = createModel(config, seed);
  return { model, opt: new Optimizer({ kind: 'adam', momentum: 0, weightDecay: 0 }, model.trainable) };
};
const state = (epoch: number) => ({ epoch, epochs: [], pTrue: [0.9, 0.8] });
const flat = (ws: Float32Array[]) => ws.flatMap((w) => Array.from(w));

describe('member checkpoints', () => {
  it('round-trips weights, optimizer step and state; the epoch is readable without tfjs', async () => {
    const dir = join(root, 'a');
    const a = fresh(1);
    a.opt.step = 7;
    await saveCheckpoint(dir, a.model, a.opt, state(3));
    const b = fresh(2);
    const s = await loadCheckpoint(dir, b.model, b.opt);
    expect(s?.epoch).toBe(3);
    expect(s?.pTrue).toEqual([0.9, 0.8]);
    expect(b.opt.step).toBe(7);
    expect(flat(getWeights(b.model))).toEqual(flat(getWeights(a.model)));
    expect(await checkpointEpochOf(dir)).toBe(3);
    expect(await checkpointEpochOf(join(root, 'none'))).toBe(0);
    // no temporary files are left behind
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.bin', 'checkpoint.json']);
  });

  it('two writers at once leave one whole checkpoint, never a mix', async () => {
    const dir = join(root, 'b');
    const a = fresh(3);
    const b = fresh(4);
    for (let round = 0; round < 5; round++)
      await Promise.all([
        saveCheckpoint(dir, a.model, a.opt, state(10 + round)),
        saveCheckpoint(dir, b.model, b.opt, state(20 + round)),
      ]);
    const c = fresh(5);
    const s = await loadCheckpoint(dir, c.model, c.opt);
    const got = flat(getWeights(c.model));
    const fromA = flat(getWeights(a.model));
    const fromB = flat(getWeights(b.model));
    expect(s?.epoch === 14 ? fromA : fromB).toEqual(got);
    expect([14, 24]).toContain(s?.epoch);
  });

  it('a stale checkpoint.json beside a newer checkpoint.bin does not matter (a crash between the two renames)', async () => {
    const dir = join(root, 'c');
    const a = fresh(6);
    await saveCheckpoint(dir, a.model, a.opt, state(1));
    const oldJson = readFileSync(join(dir, 'checkpoint.json'));
    const newer = fresh(7);
    await saveCheckpoint(dir, newer.model, newer.opt, state(2));
    writeFileSync(join(dir, 'checkpoint.json'), oldJson);
    const b = fresh(8);
    const s = await loadCheckpoint(dir, b.model, b.opt);
    expect(s?.epoch).toBe(2);
    expect(flat(getWeights(b.model))).toEqual(flat(getWeights(newer.model)));
    expect(await checkpointEpochOf(dir)).toBe(2);
  });

  it('still loads the earlier two-file format and refuses a torn one of it', async () => {
    const dir = join(root, 'd');
    const a = fresh(9);
    // Write the earlier format by hand: raw float32 in checkpoint.bin, the header in checkpoint.json.
    const arrays = [...a.model.trainable, ...a.model.state, ...a.opt.slots].map((v) => v.dataSync() as Float32Array);
    const buf = new Float32Array(arrays.reduce((n, x) => n + x.length, 0));
    let off = 0;
    for (const x of arrays) {
      buf.set(x, off);
      off += x.length;
    }
    const bytes = Buffer.from(buf.buffer);
    const meta = {
      format: 'arcal-checkpoint-1',
      epoch: 4,
      optimizerStep: 2,
      sizes: arrays.map((x) => x.length),
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      pTrue: [0.7],
      epochs: [],
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'checkpoint.bin'), bytes);
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(meta));
    const b = fresh(10);
    const s = await loadCheckpoint(dir, b.model, b.opt);
    expect(s?.epoch).toBe(4);
    expect(flat(getWeights(b.model))).toEqual(flat(getWeights(a.model)));
    writeFileSync(join(dir, 'checkpoint.bin'), bytes.subarray(4));
    await expect(loadCheckpoint(dir, b.model, b.opt)).rejects.toThrow(/torn/);
  });
});
