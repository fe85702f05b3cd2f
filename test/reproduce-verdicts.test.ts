/**
 * The reproduction's verdict rules on constructed per-seed differences: a clear win, a clear loss, a tie inside
 * the noise, Holm's ordering on differences built to have known p-values, equivalence, and "in every subset".
 */
import { describe, expect, it } from 'vitest';
import { type Claim, type ClaimTest, judgeClaims } from '../scripts/reproduce/verdicts.ts';

const claim = (test: ClaimTest, text = 'c'): Claim => ({
  text,
  source: 'test',
  seeds: [0, 1, 2, 3, 4],
  test,
  format: (v) => v.toFixed(4),
  evidence: '',
});

/**
 * Three differences c + (−s, 0, s): mean c, sd s, t = c·√3 / s with 2 degrees of freedom, whose two-sided
 * p-value has the closed form 1 − |t| / √(2 + t²); solved for t, a difference set with any wanted p.
 */
function diffsWithP(p: number, sign = -1): number[] {
  const q = 1 - p;
  const t = Math.sqrt((2 * q * q) / (1 - q * q));
  const s = 0.01;
  const c = (sign * t * s) / Math.sqrt(3);
  return [c - s, c, c + s];
}

describe('verdicts', () => {
  it('a clear win holds, the same numbers against the stated direction are reversed, a tie is inconclusive', () => {
    const win = [-0.02, -0.021, -0.019, -0.022, -0.018];
    const tie = [0.01, -0.012, 0.003, -0.004, 0.002];
    const [a, b, c] = judgeClaims([
      claim({ kind: 'difference', expect: 'negative', diffs: win }),
      claim({ kind: 'difference', expect: 'positive', diffs: win }),
      claim({ kind: 'difference', expect: 'negative', diffs: tie }),
    ]);
    expect(a.verdict).toBe('holds');
    expect(b.verdict).toBe('reversed');
    expect(c.verdict).toBe('inconclusive');
    // mean −0.02, sd √(0.00001/4) = 0.0015811, se 0.000707, t₀.₉₇₅(4) = 2.776 → ±0.001963
    expect(a.stat!.mean).toBeCloseTo(-0.02, 12);
    expect(a.stat!.ci[0]).toBeCloseTo(-0.02 - 2.776445 * 0.0007071068, 6);
    expect(a.stat!.ci[1]).toBeCloseTo(-0.02 + 2.776445 * 0.0007071068, 6);
  });

  it('Holm across claims: p = 0.01, 0.04, 0.03, 0.005 → 0.03, 0.06, 0.06, 0.02 (two hold, 0.03 does not)', () => {
    const ps = [0.01, 0.04, 0.03, 0.005];
    const judged = judgeClaims(
      ps.map((p, i) => claim({ kind: 'difference', expect: 'negative', diffs: diffsWithP(p) }, `c${i}`)),
    );
    for (const [i, j] of judged.entries()) expect(j.p).toBeCloseTo(ps[i], 10);
    const want = [0.03, 0.06, 0.06, 0.02];
    for (const [i, j] of judged.entries()) expect(j.pHolm).toBeCloseTo(want[i], 10);
    expect(judged.map((j) => j.verdict)).toEqual(['holds', 'inconclusive', 'inconclusive', 'holds']);
  });

  it('a claim with fewer than two pairs is inconclusive and does not enter the Holm family', () => {
    const [one, alone] = judgeClaims([
      claim({ kind: 'difference', expect: 'negative', diffs: [-0.5] }),
      claim({ kind: 'difference', expect: 'negative', diffs: diffsWithP(0.03) }),
    ]);
    expect(one.verdict).toBe('inconclusive');
    expect(one.p).toBeUndefined();
    // m = 1: the adjusted p equals the raw p
    expect(alone.pHolm).toBeCloseTo(0.03, 10);
    expect(alone.verdict).toBe('holds');
  });

  it('equivalence: a change well inside the margin holds, one well beyond it is reversed, a noisy one is neither', () => {
    const [inside, beyond, noisy] = judgeClaims([
      claim({ kind: 'equivalence', margin: 0.01, diffs: [0.001, -0.001, 0.0005, 0, -0.0005] }),
      claim({ kind: 'equivalence', margin: 0.01, diffs: [-0.03, -0.031, -0.029, -0.032, -0.028] }),
      claim({ kind: 'equivalence', margin: 0.01, diffs: [0.02, -0.03, 0.01, -0.01, 0.005] }),
    ]);
    expect(inside.verdict).toBe('holds');
    expect(beyond.verdict).toBe('reversed');
    expect(noisy.verdict).toBe('inconclusive');
  });

  it('every part: all significant holds; one part significant the other way is reversed; one tie is inconclusive', () => {
    const win = [-0.02, -0.021, -0.019, -0.022, -0.018];
    const loss = win.map((d) => -d);
    const tie = [0.01, -0.012, 0.003, -0.004, 0.002];
    const parts = (...ds: number[][]) => ds.map((diffs, i) => ({ label: `subset ${i + 1}`, diffs }));
    const [all, oneLoss, oneTie] = judgeClaims([
      claim({ kind: 'every', expect: 'negative', parts: parts(win, win, win) }),
      claim({ kind: 'every', expect: 'negative', parts: parts(win, loss, win) }),
      claim({ kind: 'every', expect: 'negative', parts: parts(win, tie, win) }),
    ]);
    expect(all.verdict).toBe('holds');
    expect(oneLoss.verdict).toBe('reversed');
    expect(oneLoss.part).toBe('subset 2');
    // the reversing part's p is multiplied by the number of parts (Bonferroni)
    expect(oneLoss.p).toBeCloseTo(Math.min(1, 3 * all.stat!.p), 12);
    expect(oneTie.verdict).toBe('inconclusive');
    // a part with a single pair is left out rather than blocking the claim
    const [withLone] = judgeClaims([claim({ kind: 'every', expect: 'negative', parts: parts(win, [0.5], win) })]);
    expect(withLone.verdict).toBe('holds');
  });
});
