/** `arcal run --resume` re-resolves the spec file as written, pinned to the version the run started with. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { resumeSpec } from '../src/commands/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'arcal-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = {
  name: 'r',
  dataset: { name: 'synthetic' },
  model: { arch: 'mlp' },
  training: { epochs: 1, batchSize: 8, optimizer: 'adam', learningRate: 1e-3 },
  method: { kind: 'vanilla' },
};

function runDir(name: string, resolved: object | undefined): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  writeFileSync(join(d, 'spec.input.json'), JSON.stringify(input));
  if (resolved) writeFileSync(join(d, 'spec.json'), JSON.stringify(resolved));
  return d;
}

it('a run started before versions existed (spec.json without one) resumes as version 1', () => {
  expect(resumeSpec(runDir('old', { name: 'r' })).version).toBe(1);
});

it('a run started as version 1 or 2 resumes as that version', () => {
  expect(resumeSpec(runDir('v1', { name: 'r', version: 1 })).version).toBe(1);
  expect(resumeSpec(runDir('v2', { name: 'r', version: 2 })).version).toBe(2);
});

it('a run that never got as far as spec.json resolves as new', () => {
  expect(resumeSpec(runDir('fresh', undefined)).version).toBe(2);
});
