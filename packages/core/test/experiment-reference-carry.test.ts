/**
 * A reference directory whose robustness files are all there (a resumed run, or one carried to another machine
 * without its model) serves an experiment without training the reference model again, and the experiment comes
 * out as it does with the model there: the reference is only ever attacked, and its radii are what the files hold.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../src/backend/index.ts';
import { runExperiment } from '../src/experiment/run.ts';
import type { RunEvent } from '../src/experiment/run-types.ts';
import { KEYS } from '../src/plan/index.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'arcal-ref-carry-'));
beforeAll(async () => {
  await ready({ backend: 'cpu' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = () => {
  const r = validateSpec({
    name: 'ref-carry',
    seed: 3,
    dataset: { name: 'synthetic', validationSize: 24 },
    model: { arch: 'mlp', hidden: [8] },
    training: { epochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
    method: { kind: 'ar-adals', alpha: 1, subsets: 3, robustness: { attack: 'fmn-l2', params: { steps: 5 } } },
    evaluation: { robustnessSubsets: 3, robustness: { reference: 'vanilla', attack: 'fmn-l2' } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
};

describe('a carried-over reference directory without its model', () => {
  it('is used as it is: no reference training, no attack, the same report', async () => {
    const data = tinyData({ shape: [4, 4, 1] });
    const ref = join(dir, 'reference');
    const stages = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'stage' ? [e.stage] : []));
    const first: RunEvent[] = [];
    const a = await runExperiment(spec(), {
      outDir: join(dir, 'a'),
      referenceDir: ref,
      data,
      onEvent: (e) => first.push(e),
    });
    expect(stages(first)).toContain('reference');
    expect(stages(first)).toContain('robustness');

    // the directory as published: the key and the robustness files, not the model
    const carried = join(dir, 'carried');
    cpSync(ref, carried, { recursive: true });
    rmSync(join(carried, KEYS.inReference.model), { recursive: true });
    const second: RunEvent[] = [];
    const b = await runExperiment(spec(), {
      outDir: join(dir, 'b'),
      referenceDir: carried,
      data,
      onEvent: (e) => second.push(e),
    });
    expect(stages(second)).not.toContain('reference');
    expect(second.some((e) => e.type === 'attack')).toBe(false);
    // the stage line says the radii were read, not computed
    const detail = (events: RunEvent[]) =>
      events.flatMap((e) => (e.type === 'stage' && e.stage === 'robustness' ? [e.detail ?? ''] : []));
    expect(detail(first)[0]).not.toContain('(on file)');
    expect(detail(second)[0]).toMatch(/^[\w-]+ on \w+ \(on file\)(, [\w-]+ on \w+ \(on file\))*$/);
    expect(b.notes).toContain('vanilla reference model: not needed, its robustness is on file');
    expect(b.final).toEqual(a.final);
    expect(b.bySubset).toEqual(a.bySubset);
    expect(b.train).toEqual(a.train);
  });
});
