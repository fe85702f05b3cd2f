/**
 * A run interrupted mid-training and resumed reports every epoch, as an uninterrupted run does: the records
 * before the checkpoint come from the members' checkpoint histories (independent and joint ensembles).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { runExperiment } from '../src/experiment/run.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await ready({ backend: 'cpu' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const spec = (mode: 'independent' | 'joint') => {
  const r = validateSpec({
    name: `resume-${mode}`,
    seed: 5,
    dataset: { name: 'synthetic', validationSize: 24 },
    model: { arch: 'mlp', hidden: [8] },
    training: { epochs: 3, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
    method: { kind: 'adals', alpha: 1 },
    ensemble: { members: 2, mode },
    evaluation: { robustnessSubsets: 0 },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
};
const data = () => tinyData({ shape: [4, 4, 1] });
const rows = (epochs: Array<{ member: unknown; epoch: number; trainLoss: number }>) =>
  epochs.map((e) => [e.member, e.epoch, e.trainLoss]);

describe.each(['independent', 'joint'] as const)('%s ensemble interrupted after epoch 2 of member 0', (mode) => {
  it('resumes and reports every epoch of every member, in the uninterrupted order', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arcal-resume-'));
    const clean = mkdtempSync(join(tmpdir(), 'arcal-resume-clean-'));
    dirs.push(out, clean);
    const ac = new AbortController();
    const err = await runExperiment(spec(mode), {
      outDir: out,
      data: data(),
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'epoch' && e.record.member === 0 && e.record.epoch === 2) ac.abort();
      },
    }).catch((e) => e);
    expect((err as Error)?.name, String(err)).toBe('AbortError');

    const resumed = await runExperiment(spec(mode), { outDir: out, data: data() });
    const uninterrupted = await runExperiment(spec(mode), { outDir: clean, data: data() });
    // 2 members × 3 epochs, plus the joint ensemble's 3 records
    expect(uninterrupted.epochs).toHaveLength(mode === 'joint' ? 9 : 6);
    expect(rows(resumed.epochs)).toEqual(rows(uninterrupted.epochs));
    expect(resumed.final).toEqual(uninterrupted.final);
  }, 30_000);
});
