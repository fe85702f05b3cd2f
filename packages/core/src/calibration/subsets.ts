/**
 * Robustness subsets (paper §3): examples ranked by adversarial robustness (ascending: the least robust
 * first) and cut into R equal-size subsets, sizes differing by at most one; ties keep index order.
 */
import { asRows, expectedCalibrationError, negativeLogLikelihood, type ProbRows, topLabel } from './metrics.ts';

/** Indices of each subset, subset 0 the least robust. Subset r holds ranks [⌊rN/R⌋, ⌊(r+1)N/R⌋). */
export function robustnessSubsets(robustness: ArrayLike<number>, R: number): number[][] {
  if (!Number.isInteger(R) || R < 1) throw new RangeError(`R must be a positive integer, got ${R}`);
  const n = robustness.length;
  const order = Array.from({ length: n }, (_, i) => i);
  // +Infinity (never fooled) sorts last; NaN is rejected because it has no rank.
  for (let i = 0; i < n; i++) if (Number.isNaN(robustness[i])) throw new RangeError(`robustness[${i}] is NaN`);
  // Infinity − Infinity is NaN, which is falsy, so equal infinities fall through to index order too.
  order.sort((a, b) => robustness[a] - robustness[b] || a - b);
  const out: number[][] = [];
  for (let r = 0; r < R; r++) out.push(order.slice(Math.floor((r * n) / R), Math.floor(((r + 1) * n) / R)));
  return out;
}

/** For each example, the index of its robustness subset. */
export function subsetOfExamples(robustness: ArrayLike<number>, R: number): Int32Array {
  const out = new Int32Array(robustness.length);
  robustnessSubsets(robustness, R).forEach((idx, r) => {
    for (const i of idx) out[i] = r;
  });
  return out;
}

export interface SubsetCalibration {
  count: number;
  acc: number;
  conf: number;
  ece: number;
  /** Mean negative log-likelihood of the subset's examples, −(1/n) Σ log p_i,y_i (0 for an empty subset). */
  nll: number;
  minRobustness: number;
  maxRobustness: number;
}

/** Accuracy, mean confidence, ECE and NLL of each robustness subset (paper Fig. 1 / 2). */
export function calibrationBySubset(
  probs: ProbRows,
  labels: ArrayLike<number>,
  robustness: ArrayLike<number>,
  R: number,
  opts: { bins?: number } = {},
): SubsetCalibration[] {
  const rows = asRows(probs, labels.length);
  if (robustness.length !== labels.length) throw new RangeError('robustness and labels differ in length');
  const { pred, conf } = topLabel(rows);
  return robustnessSubsets(robustness, R).map((idx) => {
    let c = 0;
    let s = 0;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    const sub: number[][] = [];
    const lab: number[] = [];
    for (const i of idx) {
      if (pred[i] === labels[i]) c++;
      s += conf[i];
      lo = Math.min(lo, robustness[i]);
      hi = Math.max(hi, robustness[i]);
      sub.push(Array.from({ length: rows.z }, (_, k) => rows.get(i, k)));
      lab.push(labels[i]);
    }
    const n = idx.length;
    return {
      count: n,
      acc: n ? c / n : 0,
      conf: n ? s / n : 0,
      ece: expectedCalibrationError(sub, lab, opts),
      nll: negativeLogLikelihood(sub, lab),
      minRobustness: n ? lo : Number.NaN,
      maxRobustness: n ? hi : Number.NaN,
    };
  });
}

/**
 * Prediction variance across M members (paper §5, stability):
 * σ² = 1/(M−1) · 1/N · Σ_i Σ_m (p̂_mi − p̄_i)², with p̂_mi member m's probability of the class that the averaged
 * prediction picks for example i, and p̄_i its mean over members. Needs M ≥ 2.
 */
export function predictionVariance(memberProbs: ProbRows[], labelsLength?: number): number {
  const { rows, n } = memberRows(memberProbs, labelsLength);
  return varianceOver(
    rows,
    Array.from({ length: n }, (_, i) => i),
  );
}

/**
 * The same σ² restricted to each robustness subset (paper Figs. 1–2, variance panels): subset r holds the examples
 * `robustnessSubsets(robustness, R)[r]`, and its σ² averages over those examples only.
 */
export function predictionVarianceBySubset(
  memberProbs: ProbRows[],
  robustness: ArrayLike<number>,
  R: number,
): number[] {
  const { rows } = memberRows(memberProbs, robustness.length);
  return robustnessSubsets(robustness, R).map((idx) => varianceOver(rows, idx));
}

function memberRows(memberProbs: ProbRows[], labelsLength?: number) {
  const M = memberProbs.length;
  if (M < 2) throw new RangeError('prediction variance needs at least two members');
  const n =
    labelsLength ??
    (typeof (memberProbs[0] as ArrayLike<number>[])[0] === 'object'
      ? (memberProbs[0] as ArrayLike<number>[]).length
      : Number.NaN);
  if (!Number.isFinite(n)) throw new RangeError('flat member probabilities need the number of examples');
  return { rows: memberProbs.map((p) => asRows(p, n)), n };
}

function varianceOver(rows: ReturnType<typeof asRows>[], indices: ArrayLike<number>): number {
  const M = rows.length;
  const z = rows[0].z;
  let total = 0;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    let best = 0;
    let bestP = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < z; k++) {
      let s = 0;
      for (const r of rows) s += r.get(i, k);
      if (s > bestP) {
        bestP = s;
        best = k;
      }
    }
    const mean = bestP / M;
    for (const r of rows) total += (r.get(i, best) - mean) ** 2;
  }
  return indices.length ? total / (M - 1) / indices.length : 0;
}

/** Element-wise mean of M flat probability arrays (the ensemble prediction). */
export function averageProbabilities(memberProbs: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(memberProbs[0].length);
  for (const p of memberProbs) for (let i = 0; i < out.length; i++) out[i] += p[i];
  for (let i = 0; i < out.length; i++) out[i] /= memberProbs.length;
  return out;
}
