/**
 * Row-wise softmax and negative log-likelihood over flat row-major [n, classes] arrays, shared by the
 * post-hoc calibrators. Pure array maths (no tfjs): calibrators are fitted once on a validation set of
 * logits and are cheap enough in plain loops.
 */
import { ArcalError } from '@arcal/contracts';

export function checkRows(values: ArrayLike<number>, classes: number, name: string): number {
  if (!Number.isInteger(classes) || classes < 2)
    throw new ArcalError('INVALID_INPUT', `classes must be an integer ≥ 2, got ${classes}`);
  if (values.length % classes !== 0)
    throw new ArcalError('INVALID_INPUT', `${name} has ${values.length} entries, not a multiple of classes=${classes}`);
  return values.length / classes;
}

export function checkLabels(labels: ArrayLike<number>, n: number, classes: number): void {
  if (labels.length !== n) throw new ArcalError('INVALID_INPUT', `labels has ${labels.length} entries, expected ${n}`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new ArcalError('INVALID_INPUT', `label ${y} at ${i} is outside [0, ${classes})`);
  }
}

/** softmax(z / T) per row, computed stably as exp(z/T − max z/T) / Σ exp(·). */
export function softmaxRows(logits: ArrayLike<number>, classes: number, T = 1): Float64Array {
  const n = checkRows(logits, classes, 'logits');
  const out = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    const o = i * classes;
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, logits[o + k] / T);
    let s = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp(logits[o + k] / T - m);
      out[o + k] = e;
      s += e;
    }
    for (let k = 0; k < classes; k++) out[o + k] /= s;
  }
  return out;
}

/** Mean negative log-likelihood −(1/n) Σ_i ln p_{i, y_i} of probabilities (floored at 1e-300 to stay finite). */
export function meanNll(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  const n = labels.length;
  let s = 0;
  for (let i = 0; i < n; i++) s -= Math.log(Math.max(1e-300, probs[i * classes + labels[i]]));
  return s / n;
}
