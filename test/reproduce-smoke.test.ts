import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReproduce } from './support/reproduce.ts';

const work = mkdtempSync(join(tmpdir(), 'arcal-smoke-'));
const out = join(work, 'out');
const runs = join(work, 'runs');
const data = join(out, 'data', 'smoke');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The smoke preset into `outDir` with runs under `runsDir`. */
const reproduce = (runsDir = runs, extra: string[] = [], outDir = out) =>
  runReproduce(['--preset', 'smoke', '--out', outDir, '--runs', runsDir, ...extra], process.env.ARCAL_THREADS ?? '2');

interface Final {
  accuracy: number;
  ece: number;
  count: number;
  reliability: Array<{ count: number; acc: number; conf: number }>;
}
const finalOf = (dir: string): Final =>
  (JSON.parse(readFileSync(join(data, `${dir}.json`), 'utf8')) as { final: Final }).final;

const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return [m, s];
};

describe('reproduce --preset smoke --minutes 0', () => {
  it('starts no experiment once the time is up, and still writes RESULTS.md from what has finished', {
    timeout: 120_000,
  }, async () => {
    const early = join(work, 'early');
    const r = await reproduce(join(work, 'early-runs'), ['--minutes', '0'], early);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toContain('--minutes reached: stopping before vanilla/seed=0');
    expect(existsSync(join(early, 'data', 'smoke'))).toBe(false);
    expect(readFileSync(join(early, 'RESULTS.md'), 'utf8')).toMatch(/ 0 of \d+ experiments finished/);
  });
});

describe('reproduce --preset smoke', () => {
  let md = '';
  it('runs the whole plan and writes RESULTS.md with every table and figure', { timeout: 900_000 }, async () => {
    const r = await reproduce();
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
    // each seed's reference rankings are published beside the summaries, as the runs folder holds them
    for (const seed of [0, 1])
      for (const f of ['key.json', 'robustness-test.json', 'robustness-train.json'])
        expect(readFileSync(join(data, 'reference', `seed-${seed}`, f), 'utf8'), `seed ${seed} ${f}`).toBe(
          readFileSync(join(runs, 'reference', `seed-${seed}`, f), 'utf8'),
        );
    // and the part is on record
    expect(md).toMatch(/The experiments ran in 1 part /);
  });

  it('each summary’s ECE equals Σ_b n_b·|acc_b − conf_b| / n over its own reliability bins', () => {
    for (const dir of ['vanilla/seed=0', 'vanilla/seed=1', 'ar-adals/seed=0', 'mixup/seed=1']) {
      const f = finalOf(dir);
      const n = f.reliability.reduce((s, b) => s + b.count, 0);
      expect(n).toBe(f.count);
      const ece = f.reliability.reduce((s, b) => s + b.count * Math.abs(b.acc - b.conf), 0) / n;
      expect(f.ece).toBeCloseTo(ece, 6);
    }
  });

  it('Table 2’s Vanilla and AR-AdaLS rows are the mean ± sample std of the seeds’ summaries', () => {
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
    const rep = JSON.parse(readFileSync(join(data, 'ens-vanilla', 'seed=0.json'), 'utf8')) as {
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

  it('every verdict is re-derived from the published summaries alone', () => {
    verifyVerdicts(md);
  });

  it('a second invocation with an empty runs folder (a fresh clone) resumes from the summaries', {
    timeout: 300_000,
  }, async () => {
    const before = md;
    const fresh = join(work, 'fresh-runs');
    const r = await reproduce(fresh);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).not.toContain('training the vanilla reference model');
    expect(r.stderr).toMatch(/finished earlier, 0 to run/);
    expect(r.stderr).not.toMatch(/epoch \d+\//);
    const again = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    const tables = (s: string) =>
      s
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .join('\n');
    expect(tables(again)).toBe(tables(before));
    expect(existsSync(join(fresh, 'vanilla', 'seed=0', 'report.json'))).toBe(false);
  });
});

// --- an independent re-derivation of the verdicts from the summaries -------------------------------------

interface Summary {
  family: string;
  seed: number;
  config: Record<string, unknown>;
  final: { accuracy: number; ece: number };
  bySubset: Array<{ acc: number; conf: number; ece: number }>;
  shift?: { rows: Array<{ ece: number }> };
  ood?: { aurocEntropy: number };
}

function readAll(dir: string): Summary[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return readAll(path);
    return name.endsWith('.json') ? [JSON.parse(readFileSync(path, 'utf8')) as Summary] : [];
  });
}

/** Student's t with one degree of freedom is the Cauchy distribution: P(T ≥ x) = ½ − atan(x)/π. */
const upper1 = (x: number) => 0.5 - Math.atan(x) / Math.PI;

function pairStats(diffs: number[]) {
  const n = diffs.length;
  const m = diffs.reduce((a, b) => a + b, 0) / n;
  const se = Math.sqrt(diffs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1) / n);
  return { n, m, se };
}

/** p and direction of each kind of claim, for exactly two seeds (df = 1). */
function pDifference(diffs: number[], expect: number) {
  const { m, se } = pairStats(diffs);
  const p = se === 0 ? (m === 0 ? 1 : 0) : 2 * upper1(Math.abs(m / se));
  return { p, forIt: Math.sign(m) === expect };
}
function pEquivalence(diffs: number[], margin: number) {
  const { m, se } = pairStats(diffs);
  const pEq = Math.max(upper1((m + margin) / se), upper1((margin - m) / se));
  const pOut = Math.min(1, 2 * Math.min(upper1((m - margin) / se), upper1((-margin - m) / se)));
  return pEq <= pOut ? { p: pEq, forIt: true } : { p: pOut, forIt: false };
}
function pEvery(parts: number[][], expect: number) {
  const tested = parts.filter((d) => d.length >= 2).map((d) => pDifference(d, expect));
  const against = tested.filter((t) => !t.forIt);
  if (against.length) return { p: Math.min(1, tested.length * Math.min(...against.map((t) => t.p))), forIt: false };
  return { p: Math.max(...tested.map((t) => t.p)), forIt: true };
}
const slopeOf = (ys: number[]) => {
  const xs = ys.map((_, i) => i + 1);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  return xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
};

function verifyVerdicts(md: string) {
  const all = readAll(data);
  const eps = Number(/→ ε = ([\d.]+)\./.exec(md)![1]);
  const of = (family: string) =>
    new Map(
      all
        .filter((s) => s.family === family && (family !== 'label-smoothing' || s.config['method.epsilon'] === eps))
        .map((s) => [s.seed, s]),
    );
  const diff = (a: string, b: string, get: (s: Summary) => number) => {
    const A = of(a);
    const B = of(b);
    return [...A.keys()]
      .filter((k) => B.has(k))
      .sort()
      .map((k) => get(A.get(k)!) - get(B.get(k)!));
  };
  const ece = (s: Summary) => s.final.ece;
  const sEce = (s: Summary) => s.shift!.rows.reduce((a, r) => a + r.ece, 0) / s.shift!.rows.length;
  const low = (s: Summary) => (s.bySubset[0].ece + s.bySubset[1].ece + s.bySubset[2].ece) / 3;
  const LS = `Label Smoothing (ε = ${eps})`;
  const vanilla = [...of('vanilla').values()];
  const expected: Record<string, { p: number; forIt: boolean }> = {};
  for (const [name, fam] of [
    ['Vanilla', 'vanilla'],
    ['Temperature Scaling', 'temperature-scaling'],
    [LS, 'label-smoothing'],
    ['AdaLS', 'adals'],
    ['CCAT', 'ccat'],
  ])
    expected[`clean ECE: AR-AdaLS (on-the-fly) < ${name}`] = pDifference(diff('ar-adals-otf', fam, ece), -1);
  expected['clean ECE: label smoothing < vanilla'] = pDifference(diff('label-smoothing', 'vanilla', ece), -1);
  expected['accuracy: AR-AdaLS (on-the-fly) within ±1 pp of vanilla'] = pEquivalence(
    diff('ar-adals-otf', 'vanilla', (s) => s.final.accuracy),
    0.01,
  );
  expected['accuracy: AR-AdaLS within ±1 pp of vanilla'] = pEquivalence(
    diff('ar-adals', 'vanilla', (s) => s.final.accuracy),
    0.01,
  );
  for (const [text, field, sign] of [
    ['vanilla: accuracy rises with adversarial robustness', 'acc', 1],
    ['vanilla: confidence rises with adversarial robustness', 'conf', 1],
    ['vanilla: ECE falls with adversarial robustness', 'ece', -1],
  ] as const)
    expected[text] = pDifference(
      vanilla.map((s) => slopeOf(s.bySubset.map((b) => b[field]))),
      sign,
    );
  expected['vanilla: confidence > accuracy in every robustness subset'] = pEvery(
    vanilla[0].bySubset.map((_, i) =>
      vanilla.filter((s) => s.bySubset[i].acc < 1).map((s) => s.bySubset[i].conf - s.bySubset[i].acc),
    ),
    1,
  );
  expected['ECE in the 3 least robust subsets: AR-AdaLS < label smoothing'] = pDifference(
    diff('ar-adals', 'label-smoothing', low),
    -1,
  );
  for (const [name, fam] of [
    ['Vanilla', 'vanilla'],
    [LS, 'label-smoothing'],
    ['AdaLS', 'adals'],
  ])
    expected[`shift ECE: AR-AdaLS < ${name}`] = pDifference(diff('ar-adals', fam, sEce), -1);
  expected['clean ECE: pre-computed AR-AdaLS < label smoothing'] = pDifference(
    diff('ar-adals', 'label-smoothing', ece),
    -1,
  );
  expected['clean ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS'] = pDifference(
    diff('ar-adals-otf', 'ar-adals', ece),
    -1,
  );
  expected['shift ECE: on-the-fly AR-AdaLS < pre-computed AR-AdaLS'] = pDifference(
    diff('ar-adals-otf', 'ar-adals', sEce),
    -1,
  );
  for (const [name, fam] of [
    [LS, 'label-smoothing'],
    ['mixup', 'mixup'],
  ])
    expected[`OOD AUROC: AR-AdaLS (on-the-fly) > ${name}`] = pDifference(
      diff('ar-adals-otf', fam, (s) => s.ood!.aurocEntropy),
      1,
    );

  // Holm over the claims recomputed here, which must be exactly the printed claims with two pairs
  const names = Object.keys(expected);
  const order = names.map((n) => ({ n, p: expected[n].p })).sort((a, b) => a.p - b.p);
  const holm: Record<string, number> = {};
  let run = 0;
  order.forEach(({ n, p }, k) => {
    run = Math.max(run, Math.min(1, (order.length - k) * p));
    holm[n] = run;
  });
  const section = md.slice(md.indexOf("## 10. Do the paper's claims hold here?"), md.indexOf('### Set-up checks'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| claim |'))
    .map((l) => l.slice(2, -2).split(' | '));
  const printed = new Map(rows.map((c) => [c[0], { pairs: Number(c[2]), p: c[4], verdict: c[6] }]));
  for (const n of names) expect(printed.get(n), n).toBeDefined();
  for (const [text, row] of printed) {
    const e = expected[text];
    if (!e) {
      // an ensemble or R-sweep claim: one seed in the smoke preset, nothing to test
      expect(row.pairs, text).toBeLessThan(2);
      expect(row.verdict, text).toBe('inconclusive (not tested: fewer than two pairs)');
      continue;
    }
    expect(row.pairs, text).toBe(2);
    const p = Number(row.p);
    expect(Math.abs(p - e.p), `${text}: printed p ${row.p}, recomputed ${e.p}`).toBeLessThanOrEqual(
      0.051 * e.p + 1e-12,
    );
    if (Math.abs(holm[text] - 0.05) < 1e-9) continue;
    const verdict = holm[text] < 0.05 ? (e.forIt ? 'holds' : '**reversed**') : 'inconclusive';
    expect(row.verdict, text).toBe(verdict);
  }
}
