/**
 * AUROC for separating in-distribution from out-of-distribution inputs by a score (higher = more
 * in-distribution), as reported in the paper's Section 5.4 (CIFAR-10 in, CIFAR-100 out). Pure array maths.
 */
import { ArcalError } from '@arcal/contracts';
import { predictiveEntropy, rowCount } from './entropy.ts';

/**
 * Area under the ROC curve with in-distribution as the positive class, in the Mann–Whitney form
 *   AUROC = (1 / (n_in · n_out)) Σ_i Σ_j [ 1(s_i > t_j) + ½ · 1(s_i = t_j) ],
 * s = scoresIn, t = scoresOut. Computed in O((n_in + n_out) log(n_in + n_out)) from mid-ranks:
 * AUROC = (R_in − n_in(n_in + 1)/2) / (n_in · n_out), R_in the sum of the mid-ranks of the in-scores in the
 * pooled sample (tied values share the average of their ranks, which gives the ½ for ties).
 * Perfect separation gives 1, reversed 0, identical score distributions 0.5. NaN scores are rejected.
 */
export function auroc(scoresIn: ArrayLike<number>, scoresOut: ArrayLike<number>): number {
  const nIn = scoresIn.length;
  const nOut = scoresOut.length;
  if (nIn === 0 || nOut === 0)
    throw new ArcalError('INVALID_INPUT', `auroc needs both score sets non-empty (got ${nIn} in, ${nOut} out)`);
  const n = nIn + nOut;
  const vals = new Float64Array(n);
  for (let i = 0; i < nIn; i++) vals[i] = scoresIn[i];
  for (let j = 0; j < nOut; j++) vals[nIn + j] = scoresOut[j];
  for (let i = 0; i < n; i++)
    if (Number.isNaN(vals[i])) throw new ArcalError('INVALID_INPUT', 'auroc scores contain NaN');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => vals[a] - vals[b]);
  let rankSumIn = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && vals[order[j + 1]] === vals[order[i]]) j++;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) if (order[k] < nIn) rankSumIn += midRank;
    i = j + 1;
  }
  return (rankSumIn - (nIn * (nIn + 1)) / 2) / (nIn * nOut);
}

export interface OodScores {
  /** max_k p_k per row (maximum softmax probability). */
  maxProb: Float64Array;
  /** −H(p) per row: higher means more confident, i.e. more in-distribution. */
  negEntropy: Float64Array;
}

/** The two in-distribution scores (higher = more in-distribution) used with `auroc`: max probability and −entropy. */
export function oodScores(probs: ArrayLike<number>, classes: number): OodScores {
  const n = rowCount(probs, classes);
  const maxProb = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, probs[i * classes + k]);
    maxProb[i] = m;
  }
  const h = predictiveEntropy(probs, classes);
  const negEntropy = h.map((v) => -v);
  return { maxProb, negEntropy };
}
