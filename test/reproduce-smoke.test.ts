/**
 * `npm run reproduce -- --preset smoke` end to end, as a user runs it: every experiment of the plan through
 * runExperiment on real data, then RESULTS.md and the figures. The checks recompute what the tables say from
 * the experiments' own report.json files (ECE from the reliability bins, mean ± sample std over seeds), so the
 * aggregation is checked against an independent computation, and a second invocation resumes instead of
 * training again. Takes a few minutes (about two on two idle cores).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'arcal-smoke-'));
const out = join(work, 'out');
const runs = join(work, 'runs');
afterAll(() => rmSync(work, { recursive: true, force: true }));

function reproduce() {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/reproduce.ts', '--preset', 'smoke', '--out', out, '--runs', runs],
    { cwd: root, encoding: 'utf8', env: { ...process.env, ARCAL_THREADS: process.env.ARCAL_THREADS ?? '2' } },
  );
}

interface Final {
  accuracy: number;
  ece: number;
  count: number;
  reliability: Array<{ count: number; acc: number; conf: number }>;
}
const finalOf = (dir: string): Final =>
  (JSON.parse(readFileSync(join(runs, dir, 'report.json'), 'utf8')) as { final: Final }).final;

const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return [m, s];
};

describe('reproduce --preset smoke', () => {
  let md = '';
  it('runs the whole plan and writes RESULTS.md with every table and figure', { timeout: 900_000 }, () => {
    const r = reproduce();
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    const done = /(\d+) of (\d+) experiments finished/.exec(md);
    expect(done).not.toBeNull();
    expect(done![1]).toBe(done![2]);
    for (const heading of ['## 1.', '## 2. Clean test calibration (paper Table 2)']) expect(md).toContain(heading);
    for (const method of ['Vanilla', 'Temperature Scaling', 'AdaLS', 'AR-AdaLS', 'mixup', 'CCAT', 'Mix-n-Match'])
      expect(md).toMatch(new RegExp(`^\\| ${method} \\| \\d`, 'm'));
    const figures = readdirSync(join(out, 'figures')).filter((f) => f.endsWith('.svg'));
    expect(figures.length).toBeGreaterThanOrEqual(8);
    for (const f of figures) expect(readFileSync(join(out, 'figures', f), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  });

  it('each report’s ECE equals Σ_b n_b·|acc_b − conf_b| / n over its own reliability bins', () => {
    for (const dir of ['vanilla/seed=0', 'vanilla/seed=1', 'ar-adals/seed=0', 'mixup/seed=1']) {
      const f = finalOf(dir);
      const n = f.reliability.reduce((s, b) => s + b.count, 0);
      expect(n).toBe(f.count);
      const ece = f.reliability.reduce((s, b) => s + b.count * Math.abs(b.acc - b.conf), 0) / n;
      expect(f.ece).toBeCloseTo(ece, 6);
    }
  });

  it('Table 2’s Vanilla and AR-AdaLS rows are the mean ± sample std of the seeds’ reports', () => {
    for (const [name, family] of [
      ['Vanilla', 'vanilla'],
      ['AR-AdaLS', 'ar-adals'],
    ]) {
      const finals = ['seed=0', 'seed=1'].map((s) => finalOf(`${family}/${s}`));
      const row = md.split('\n').find((l) => l.startsWith(`| ${name} | `))!;
      const cells = row.split('|').map((c) => c.trim());
      const [accM, accS] = meanStd(finals.map((f) => 100 * f.accuracy));
      const [eceM, eceS] = meanStd(finals.map((f) => 100 * f.ece));
      expect(cells[2]).toBe('2');
      expect(cells[3]).toBe(`${accM.toFixed(2)} ± ${accS.toFixed(2)}`);
      expect(cells[4]).toBe(`${eceM.toFixed(2)} ± ${eceS.toFixed(2)}`);
    }
  });

  it('the variance-by-subset table (Figs. 1–2d) lists each ensemble run’s per-subset σ², which averages to its σ²', () => {
    expect(existsSync(join(out, 'figures', 'fig2d-variance-by-subset.svg'))).toBe(true);
    const dir = readdirSync(join(runs, 'ens-vanilla'))[0];
    const rep = JSON.parse(readFileSync(join(runs, 'ens-vanilla', dir, 'report.json'), 'utf8')) as {
      variance: number;
      bySubset: Array<{ count: number; variance: number }>;
    };
    const n = rep.bySubset.reduce((s, b) => s + b.count, 0);
    expect(rep.bySubset.reduce((s, b) => s + b.count * b.variance, 0) / n).toBeCloseTo(rep.variance, 10);
    const section = md.slice(md.indexOf('### Variance by robustness subset'));
    const header = section.split('\n').find((l) => l.startsWith('| subset |'))!;
    const col = header
      .split('|')
      .map((c) => c.trim())
      .indexOf('Vanilla');
    expect(col).toBeGreaterThan(1);
    rep.bySubset.forEach((b, i) => {
      const row = section.split('\n').find((l) => l.startsWith(`| ${i + 1} |`))!;
      expect(row.split('|').map((c) => c.trim())[col]).toBe(b.variance.toExponential(2));
    });
  });

  it('a second invocation resumes: it trains nothing and writes the same tables', { timeout: 300_000 }, () => {
    const before = md;
    const r = reproduce();
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).not.toContain('training the vanilla reference model');
    const again = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    const tables = (s: string) =>
      s
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .join('\n');
    expect(tables(again)).toBe(tables(before));
    expect(existsSync(join(runs, 'vanilla', 'seed=0', 'report.json'))).toBe(true);
  });
});
