import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { type RunEvent, runExperiment } from '../src/experiment/run.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await ready({ backend: 'wasm' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const R = 3;

function spec(epochs: number, ensemble: Record<string, unknown>) {
  const r = validateSpec({
    name: 'otf',
    seed: 4,
    dataset: { name: 'synthetic', validationSize: 24 },
    model: { arch: 'mlp', hidden: [8] },
    training: { epochs, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
    method: {
      kind: 'ar-adals',
      subsets: R,
      alpha: 1,
      robustness: { attack: 'deepfool-l2', source: 'on-the-fly', everyEpochs: 2 },
    },
    ensemble,
    evaluation: { robustnessSubsets: 0 },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

/**
 * The subsets of Algorithm 1 computed from stored radii without the library: indices sorted by radius
 * (never-fooled last, ties by index); rank k goes to subset ⌊kR/N⌋, i.e. ⌊rN/R⌋ ≤ k < ⌊(r+1)N/R⌋ for subset r.
 */
function subsetsByHand(file: string): number[] {
  const norms = (JSON.parse(readFileSync(file, 'utf8')).norms as Array<number | null>).map((v) => v ?? Infinity);
  const order = norms.map((_, i) => i).sort((a, b) => (norms[a] === norms[b] ? a - b : norms[a] < norms[b] ? -1 : 1));
  const out = new Array<number>(norms.length);
  order.forEach((i, rank) => {
    out[i] = Math.floor((rank * R) / norms.length);
  });
  return out;
}

describe('on-the-fly robustness starts from the reference ranking', () => {
  it('a single member trains epochs 0 … everyEpochs − 1 on the vanilla reference ranking, then attacks itself', async () => {
    const data = tinyData({ shape: [6, 6, 1] });
    const attacked = (events: RunEvent[]) =>
      [...new Set(events.filter((e) => e.type === 'attack').map((e) => (e as { what: string }).what))].sort();

    const out = mkdtempSync(join(tmpdir(), 'arcal-otf-'));
    dirs.push(out);
    const events: RunEvent[] = [];
    const rep = await runExperiment(spec(2, { members: 1 }), { outDir: out, data, onEvent: (e) => events.push(e) });
    // the reference was trained and attacked on train and validation; the untrained member never was
    expect(rep.notes.some((n) => n.startsWith('vanilla reference model'))).toBe(true);
    expect(attacked(events)).toEqual(['train', 'validation']);
    const ck = JSON.parse(readFileSync(join(out, 'members', 'm0', 'checkpoint.json'), 'utf8'));
    expect(ck.ranking.train).toEqual(subsetsByHand(join(out, 'reference', 'robustness-train.json')));
    expect(ck.ranking.val).toEqual(subsetsByHand(join(out, 'reference', 'robustness-validation.json')));
    expect(ck.ranking.train).toHaveLength(data.train.n);

    // one more epoch: the re-rank before epoch index 2 attacks the member as it stands
    const out3 = mkdtempSync(join(tmpdir(), 'arcal-otf-'));
    dirs.push(out3);
    const events3: RunEvent[] = [];
    await runExperiment(spec(3, { members: 1 }), { outDir: out3, data, onEvent: (e) => events3.push(e) });
    expect(attacked(events3)).toEqual(['train', 'train (epoch 2)', 'validation', 'validation (epoch 2)']);
  });

  it('a joint ensemble trains its first epochs on the reference ranking, not on its untrained average', async () => {
    const data = tinyData({ shape: [6, 6, 1] });
    const out = mkdtempSync(join(tmpdir(), 'arcal-otf-'));
    dirs.push(out);
    const events: RunEvent[] = [];
    await runExperiment(spec(1, { members: 2, mode: 'joint' }), { outDir: out, data, onEvent: (e) => events.push(e) });
    expect(events.some((e) => e.type === 'attack' && e.what.includes('epoch 0'))).toBe(false);
    const joint = JSON.parse(readFileSync(join(out, 'joint.json'), 'utf8'));
    expect(joint.ranking.train).toEqual(subsetsByHand(join(out, 'reference', 'robustness-train.json')));
    expect(joint.ranking.val).toEqual(subsetsByHand(join(out, 'reference', 'robustness-validation.json')));
  });
});
