/**
 * Isotonic regression by pool-adjacent-violators (PAV) and its multi-class use, IRM (Zhang, Kailkhura & Han
 * 2020, Section 4): one non-decreasing map fitted on every (class probability, class indicator) pair of the
 * validation set pooled over classes, applied to each class probability, rows renormalised.
 * Pure array maths.
 */
import { ArcalError } from '@arcal/contracts';
import { checkLabels, checkRows } from './softmax.ts';

/**
 * Pool-adjacent-violators: the non-decreasing sequence f minimising Σ_i w_i (y_i − f_i)², for y given in the
 * order of its (already sorted) inputs. Adjacent blocks whose weighted means violate the order are merged
 * into one block with the weighted mean; each block's value is Σ w y / Σ w over the block. O(n).
 */
export function poolAdjacentViolators(y: ArrayLike<number>, w?: ArrayLike<number>): Float64Array {
  const n = y.length;
  if (w && w.length !== n) throw new ArcalError('INVALID_INPUT', `weights have ${w.length} entries, values ${n}`);
  const sum = new Float64Array(n); // block Σ w y
  const wt = new Float64Array(n); // block Σ w
  const len = new Int32Array(n); // block size
  let top = -1;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    if (!(wi > 0)) throw new ArcalError('INVALID_INPUT', `weight ${wi} at ${i} must be > 0`);
    top++;
    sum[top] = wi * y[i];
    wt[top] = wi;
    len[top] = 1;
    while (top > 0 && sum[top - 1] / wt[top - 1] > sum[top] / wt[top]) {
      sum[top - 1] += sum[top];
      wt[top - 1] += wt[top];
      len[top - 1] += len[top];
      top--;
    }
  }
  const out = new Float64Array(n);
  let o = 0;
  for (let b = 0; b <= top; b++) {
    const v = sum[b] / wt[b];
    for (let j = 0; j < len[b]; j++) out[o++] = v;
  }
  return out;
}

/** A fitted non-decreasing map as knots: x strictly increasing, y non-decreasing. */
export interface IsotonicMap {
  x: number[];
  y: number[];
}

/**
 * Fits the isotonic regression of y on x: sorts by x, pools equal x (their weighted mean y), runs PAV and keeps,
 * for every fitted block, its smallest and largest x as knots carrying the block's value.
 */
export function fitIsotonic(x: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): IsotonicMap {
  const n = x.length;
  if (y.length !== n) throw new ArcalError('INVALID_INPUT', `x has ${n} entries, y ${y.length}`);
  if (n === 0) throw new ArcalError('INVALID_INPUT', 'isotonic regression needs at least one point');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const wi = w ? w[i] : 1;
    if (ux.length > 0 && ux[ux.length - 1] === x[i]) {
      const j = ux.length - 1;
      uy[j] = (uy[j] * uw[j] + y[i] * wi) / (uw[j] + wi);
      uw[j] += wi;
    } else {
      ux.push(x[i]);
      uy.push(y[i]);
      uw.push(wi);
    }
  }
  const f = poolAdjacentViolators(uy, uw);
  const kx: number[] = [];
  const ky: number[] = [];
  for (let i = 0; i < ux.length; i++) {
    const startsBlock = i === 0 || f[i] !== f[i - 1];
    const endsBlock = i === ux.length - 1 || f[i] !== f[i + 1];
    if (startsBlock || endsBlock) {
      kx.push(ux[i]);
      ky.push(f[i]);
    }
  }
  return { x: kx, y: ky };
}

/**
 * Evaluates the map at q: the knot value outside [x_0, x_last] (clipped), linear interpolation between
 * neighbouring knots inside. Non-decreasing in q because the knots are.
 */
export function applyIsotonic(map: IsotonicMap, q: number): number {
  const { x, y } = map;
  const m = x.length;
  if (q <= x[0]) return y[0];
  if (q >= x[m - 1]) return y[m - 1];
  let lo = 0;
  let hi = m - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid] <= q) lo = mid;
    else hi = mid;
  }
  const t = (q - x[lo]) / (x[hi] - x[lo]);
  return y[lo] + t * (y[hi] - y[lo]);
}

/**
 * IRM fit: the isotonic map g of the pooled pairs (p_ik, 1[y_i = k]) over all i and k, so that g(p) estimates
 * P(class is correct | its predicted probability is p) with one map shared by all classes.
 */
export function fitIrm(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number): IsotonicMap {
  const n = checkRows(probs, classes, 'probs');
  checkLabels(labels, n, classes);
  const ind = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) ind[i * classes + labels[i]] = 1;
  return fitIsotonic(probs, ind);
}

/**
 * IRM apply: q_ik = g(p_ik) + τ·p_ik, then q_i ← q_i / Σ_k q_ik. The tiny τ = 1e-9 breaks the ties a flat
 * piece of g would create, so the within-row order of p (hence the argmax, hence accuracy) is kept; a row
 * whose q are all zero (impossible unless g is 0 everywhere) becomes uniform.
 */
export function applyIrm(map: IsotonicMap, probs: ArrayLike<number>, classes: number): Float32Array {
  const n = checkRows(probs, classes, 'probs');
  const out = new Float32Array(n * classes);
  const q = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < classes; k++) {
      const p = probs[i * classes + k];
      q[k] = Math.max(0, applyIsotonic(map, p)) + 1e-9 * p;
      s += q[k];
    }
    for (let k = 0; k < classes; k++) out[i * classes + k] = s > 0 ? q[k] / s : 1 / classes;
  }
  return out;
}
