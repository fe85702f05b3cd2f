/**
 * The statistics behind the reproduction's verdicts: Student's t distribution (through the regularized
 * incomplete beta function), the paired t-test with its 95 % interval, two one-sided tests for equivalence,
 * Holm's step-down correction and a least-squares slope. Pure numbers, no dependency.
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; reflection below ½), accurate to about 1e-13 relative. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of I_x(a, b) (modified Lentz), valid and fast for x < (a + 1) / (a + b + 2). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/**
 * The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), from its continued fraction
 * (using I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly).
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError('incomplete beta needs a, b > 0');
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with ν degrees of freedom: ½·I_{ν/(ν+t²)}(ν/2, ½) in the lower tail. */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** Upper tail P(T ≥ t), computed without the cancellation of 1 − cdf for large t. */
export function studentTSurvival(t: number, df: number): number {
  return studentTCdf(-t, df);
}

/** The p-quantile of Student's t with ν degrees of freedom (bisection on the CDF to machine precision). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError('quantile needs 0 < p < 1');
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface PairedTest {
  /** Number of pairs. */
  n: number;
  /** Mean difference d̄. */
  mean: number;
  /** Sample standard deviation of the differences (n − 1). */
  sd: number;
  /** Standard error sd / √n. */
  se: number;
  df: number;
  /** t = d̄ / se (±∞ when every difference is the same non-zero value). */
  t: number;
  /** Two-sided p-value 2·P(T ≥ |t|). */
  p: number;
  /** 95 % interval d̄ ± t₀.₉₇₅(n − 1)·se. */
  ci: [number, number];
}

/** The two-sided paired t-test on per-pair differences; undefined for fewer than two pairs. */
export function pairedTTest(diffs: number[]): PairedTest | undefined {
  const n = diffs.length;
  if (n < 2) return undefined;
  const mean = diffs.reduce((s, d) => s + d, 0) / n;
  const sd = Math.sqrt(diffs.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  const df = n - 1;
  // identical differences: no spread to test against; equal to zero is no evidence, non-zero is certain
  const degenerate = se <= 1e-15 * Math.max(1, Math.abs(mean));
  const t = degenerate ? (Math.abs(mean) <= 1e-15 ? 0 : Math.sign(mean) * Number.POSITIVE_INFINITY) : mean / se;
  const p = Math.min(1, 2 * studentTSurvival(Math.abs(t), df));
  const q = studentTQuantile(0.975, df);
  return { n, mean, sd, se: degenerate ? 0 : se, df, t, p, ci: [mean - q * se, mean + q * se] };
}

/**
 * Two one-sided tests of |δ| < margin for paired differences (Schuirmann): p = max of the p-values of
 * H₀: δ ≤ −margin and H₀: δ ≥ margin. Also the p-value of the opposite finding, |δ| > margin (the larger of
 * the two one-sided tests against the near edge, doubled as a two-sided test).
 */
export function equivalenceTest(test: PairedTest, margin: number): { pEquivalent: number; pBeyondMargin: number } {
  const tail = (x: number) => studentTSurvival(x, test.df);
  if (test.se === 0) {
    const inside = Math.abs(test.mean) < margin;
    return { pEquivalent: inside ? 0 : 1, pBeyondMargin: Math.abs(test.mean) > margin ? 0 : 1 };
  }
  const pAboveLower = tail((test.mean + margin) / test.se); // H₀: δ ≤ −margin
  const pBelowUpper = tail((margin - test.mean) / test.se); // H₀: δ ≥ margin
  const pBeyond = Math.min(tail((test.mean - margin) / test.se), tail((-margin - test.mean) / test.se));
  return { pEquivalent: Math.max(pAboveLower, pBelowUpper), pBeyondMargin: Math.min(1, 2 * pBeyond) };
}

/**
 * Holm's step-down adjustment: with p sorted ascending, p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎).
 * Rejecting where p̃ < α controls the family-wise error rate at α. Returned in the input order.
 */
export function holmAdjust(ps: number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** Least-squares slope of ys against 1, 2, …, n. */
export function slope(ys: number[]): number {
  const n = ys.length;
  const mx = (n + 1) / 2;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, i) => {
    sxy += (i + 1 - mx) * (y - my);
    sxx += (i + 1 - mx) ** 2;
  });
  return sxy / sxx;
}
