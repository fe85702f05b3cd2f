/**
 * Verdicts on the paper's claims from paired per-seed differences. A seed fixes the data split and the vanilla
 * reference model, so two methods run with the same seed form a pair; a claim is judged on the differences
 * of its pairs, never on two means compared by eye.
 *
 * - `difference`: a two-sided paired t-test of mean difference 0; the claim holds when the Holm-adjusted
 *   p-value is below α and the mean difference has the sign the paper states, is reversed when it is below α
 *   with the other sign, and is inconclusive otherwise.
 * - `equivalence`: "no change" within ±margin, by two one-sided tests (TOST). It holds when the TOST p-value
 *   (Holm-adjusted) is below α, i.e. the change is shown to lie inside the margin; it is reversed when the test
 *   of a change beyond the margin (two-sided) is below α; otherwise inconclusive.
 * - `every`: a statement about every part (e.g. every robustness subset), each part tested as `difference`
 *   (a part with fewer than two pairs is left out). It holds only when every part is significant in the stated
 *   direction (intersection–union test: p is the largest part's p); it is reversed when some part is
 *   significant in the other direction (Bonferroni over the parts: p is the smallest such part's p times the
 *   number of parts).
 *
 * Holm's correction runs over every claim that has at least two pairs; a claim with fewer is inconclusive.
 */
import { equivalenceTest, holmAdjust, type PairedTest, pairedTTest } from './stats.ts';

export type Verdict = 'holds' | 'reversed' | 'inconclusive';

export const ALPHA = 0.05;

export type ClaimTest =
  | { kind: 'difference'; expect: 'negative' | 'positive'; diffs: number[] }
  | { kind: 'equivalence'; margin: number; diffs: number[] }
  | { kind: 'every'; expect: 'negative' | 'positive'; parts: Array<{ label: string; diffs: number[] }> };

export interface Claim {
  text: string;
  /** Where the paper says it (table, figure or section). */
  source: string;
  /** Seeds of the pairs. */
  seeds: number[];
  test: ClaimTest;
  /** How a difference is printed (e.g. percentage points). */
  format: (v: number) => string;
  /** The two sides' means, in words. */
  evidence: string;
  /** What the compared quantity is, when the claim's text does not say it. */
  note?: string;
}

export interface Judged extends Claim {
  /** Number of pairs (for `every`: of the deciding part). */
  n: number;
  /** The paired test of the deciding difference (for `every`: the part named in `part`). */
  stat?: PairedTest;
  part?: string;
  p?: number;
  pHolm?: number;
  direction?: 'for' | 'against';
  verdict: Verdict;
}

interface Evaluation {
  p: number;
  direction: 'for' | 'against';
  stat: PairedTest;
  part?: string;
}

const signOk = (mean: number, expect: 'negative' | 'positive') => (expect === 'negative' ? mean < 0 : mean > 0);

/** The claim's one p-value and the finding it is evidence for; undefined without two pairs. */
export function evaluateClaim(test: ClaimTest): Evaluation | undefined {
  if (test.kind === 'difference') {
    const stat = pairedTTest(test.diffs);
    if (!stat) return undefined;
    return { p: stat.p, direction: signOk(stat.mean, test.expect) ? 'for' : 'against', stat };
  }
  if (test.kind === 'equivalence') {
    const stat = pairedTTest(test.diffs);
    if (!stat) return undefined;
    const { pEquivalent, pBeyondMargin } = equivalenceTest(stat, test.margin);
    return pEquivalent <= pBeyondMargin
      ? { p: pEquivalent, direction: 'for', stat }
      : { p: pBeyondMargin, direction: 'against', stat };
  }
  // a part with fewer than two pairs (e.g. a subset at 100 % accuracy in all but one seed) says nothing either way
  const tested = test.parts
    .map((x) => ({ label: x.label, stat: pairedTTest(x.diffs) }))
    .filter((x): x is { label: string; stat: PairedTest } => x.stat !== undefined);
  if (!tested.length) return undefined;
  const against = tested.filter((x) => !signOk(x.stat.mean, test.expect)).sort((a, b) => a.stat.p - b.stat.p);
  if (against.length)
    return {
      p: Math.min(1, against[0].stat.p * tested.length),
      direction: 'against',
      stat: against[0].stat,
      part: against[0].label,
    };
  const weakest = [...tested].sort((a, b) => b.stat.p - a.stat.p)[0];
  return { p: weakest.stat.p, direction: 'for', stat: weakest.stat, part: weakest.label };
}

/** Every claim's verdict, with Holm's adjustment across the claims that could be tested. */
export function judgeClaims(claims: Claim[], alpha = ALPHA): Judged[] {
  const evals = claims.map((c) => evaluateClaim(c.test));
  const tested = evals.map((e, i) => ({ e, i })).filter((x): x is { e: Evaluation; i: number } => !!x.e);
  const adjusted = holmAdjust(tested.map((x) => x.e.p));
  const holm = new Map(tested.map((x, k) => [x.i, adjusted[k]]));
  return claims.map((c, i) => {
    const e = evals[i];
    const pHolm = holm.get(i);
    if (!e || pHolm === undefined) return { ...c, n: c.seeds.length, verdict: 'inconclusive' };
    const verdict: Verdict = pHolm < alpha ? (e.direction === 'for' ? 'holds' : 'reversed') : 'inconclusive';
    return { ...c, n: e.stat.n, stat: e.stat, part: e.part, p: e.p, pHolm, direction: e.direction, verdict };
  });
}
