import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '../../../test/support/run-process.ts';

const bin = new URL('../bin/arcal.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arcal-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const arcal = (...args: string[]) =>
  runProcess(process.execPath, [bin, ...args], { env: { ...process.env, ARCAL_BACKEND: 'wasm' }, timeout: 120_000 });

describe('arcal run (a child process, as a user runs it)', () => {
  it('runs the synthetic example and writes report.json and the model', async () => {
    const spec = new URL('../../../apps/api/test/fixtures/vanilla-synthetic.json', import.meta.url).pathname;
    const out = join(dir, 'run');
    const r = await arcal('run', spec, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| synthetic-vanilla +\| vanilla/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.backend).toBe('wasm');
    expect(report.epochs).toHaveLength(2);
    expect(report.dataset).toMatchObject({ train: 512, validation: 128, test: 128 });
    for (const k of ['accuracy', 'nll', 'ece', 'brier']) expect(report.final[k]).toBeGreaterThanOrEqual(0);
    expect(report.final.accuracy).toBeLessThanOrEqual(1);
    expect(existsSync(join(out, 'model', 'model.json'))).toBe(true);
    // a second run into the same directory is refused with a pointer to --resume
    const again = await arcal('run', spec, '--out', out);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('--resume');
    // resuming a finished run completes at once with the same numbers
    const resumed = await arcal('run', '--resume', out);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).final.accuracy).toBe(report.final.accuracy);
    // predict reads the exported model back
    writeFileSync(join(dir, 'img.json'), JSON.stringify([new Array(64).fill(0.5)]));
    const p = await arcal('predict', '--model', join(out, 'model'), '--data', join(dir, 'img.json'));
    expect(p.status, p.stderr).toBe(0);
    const row = JSON.parse(p.stdout.trim().split('\n')[0]);
    expect(row.probabilities).toHaveLength(4);
    expect(row.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 4);
  });

  it('an invalid spec exits 2 with one line per problem and writes nothing', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        name: 'b',
        dataset: { name: 'synthetic' },
        model: { arch: 'mlp' },
        training: { epochs: 1, batchSize: 0, optimizer: 'sgd', learningRate: 1 },
        method: { kind: 'vanilla' },
        ensemble: { members: 0 },
      }),
    );
    const out = join(dir, 'bad-out');
    const r = await arcal('run', bad, '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['training.batchSize: must be >= 1', 'ensemble.members: must be >= 1']);
    expect(existsSync(out)).toBe(false);
  });

  it('a valid but unbuilt feature is refused as not implemented with its path', async () => {
    const spec = join(dir, 'frost.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'f',
        dataset: { name: 'synthetic' },
        model: { arch: 'mlp' },
        training: { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 1 },
        method: { kind: 'vanilla' },
        evaluation: { corruptions: ['contrast', 'frost'] },
      }),
    );
    const r = await arcal('validate', spec);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('not implemented: evaluation.corruptions.1');
  });
});
