import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { shiftSubset } from '../src/experiment/evaluate-extra.ts';
import { runExperiment } from '../src/experiment/run.ts';
import { loadModel } from '../src/models/io.ts';
import { tinyData } from './helpers/tiny-data.ts';
import { handShiftAccuracy } from './shift-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'arcal-shift-subset-'));
beforeAll(async () => {
  await ready({ backend: 'wasm' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('corruption metrics on evaluation.shiftLimit test images', () => {
  it("equal the exported model's accuracy on the corrupted subset, recomputed by hand", async () => {
    const data = tinyData({ shape: [6, 6, 1], n: 96 }); // 24 test images
    const r = validateSpec({
      name: 'shift-subset',
      seed: 4,
      dataset: { name: 'synthetic', validationSize: 24 },
      model: { arch: 'mlp', hidden: [8] },
      training: { epochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
      method: { kind: 'vanilla' },
      evaluation: { robustnessSubsets: 0, corruptions: ['contrast'], severities: [3], shiftLimit: 7 },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const out = join(dir, 'run');
    const report = await runExperiment(r.spec, { outDir: out, data });
    const rows = (report as unknown as { shift: { rows: Array<{ accuracy: number; severity: number }> } }).shift.rows;
    expect(rows.map((x) => x.severity)).toEqual([3]);

    const keep = shiftSubset(data.test.n, 7);
    expect(keep.length).toBe(7);
    const { model } = await loadModel(join(out, 'model'));
    expect(rows[0].accuracy).toBeCloseTo(handShiftAccuracy(model, data.test, [6, 6, 1], 7, 'contrast', 3, 4 + 3), 12);
    // a fraction of the 7 images, not of all 24
    expect(Math.abs(rows[0].accuracy * 7 - Math.round(rows[0].accuracy * 7))).toBeLessThan(1e-9);
  });
});
