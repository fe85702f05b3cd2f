/**
 * Temperature scaling (Guo et al. 2017; the paper's baseline (2)): one scalar T > 0 fitted on validation
 * logits so that softmax(z/T) minimises the validation NLL. Pure array maths.
 */
import { ArcalError } from '@arcal/contracts';
import { goldenSectionMin } from './golden-section.ts';
import { checkLabels, checkRows, softmaxRows } from './softmax.ts';

/**
 * Validation NLL of softmax(z/T): L(T) = (1/n) Σ_i [ logsumexp_k(z_ik / T) − z_{i,y_i} / T ].
 * L is convex in β = 1/T (a log-sum-exp of functions linear in β minus a linear term), hence unimodal in ln T.
 */
export function temperatureNll(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  T: number,
): number {
  const n = labels.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const o = i * classes;
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, logits[o + k] / T);
    let e = 0;
    for (let k = 0; k < classes; k++) e += Math.exp(logits[o + k] / T - m);
    s += m + Math.log(e) - logits[o + labels[i]] / T;
  }
  return s / n;
}

export interface TemperatureFitOptions {
  /** Search interval for T (default [0.01, 100]); the fit is clamped to it. */
  range?: [number, number];
  /** Stop when the bracket on ln T is narrower than this (default 1e-7). */
  tol?: number;
}

/**
 * T* = argmin_T L(T) (see `temperatureNll`) by golden-section search on ln T over `range`. Because L is
 * unimodal in ln T the search cannot be trapped; it needs no gradients and cannot diverge. If the data push
 * T to an end of the range (e.g. perfectly separable validation logits, where L keeps falling as T → 0),
 * the end is returned.
 */
export function fitTemperature(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  options: TemperatureFitOptions = {},
): number {
  const n = checkRows(logits, classes, 'logits');
  checkLabels(labels, n, classes);
  if (n === 0) throw new ArcalError('INVALID_INPUT', 'fitTemperature needs at least one example');
  const [tLo, tHi] = options.range ?? [0.01, 100];
  if (!(tLo > 0 && tHi > tLo))
    throw new ArcalError('INVALID_INPUT', `temperature range must satisfy 0 < lo < hi, got [${tLo}, ${tHi}]`);
  const tol = options.tol ?? 1e-7;
  const f = (u: number) => temperatureNll(logits, labels, classes, Math.exp(u));
  return Math.exp(goldenSectionMin(f, Math.log(tLo), Math.log(tHi), tol));
}

/** softmax(z / T) per row, as a Float32Array. */
export function applyTemperature(logits: ArrayLike<number>, classes: number, T: number): Float32Array {
  if (!(T > 0)) throw new ArcalError('INVALID_INPUT', `temperature must be > 0, got ${T}`);
  return Float32Array.from(softmaxRows(logits, classes, T));
}
