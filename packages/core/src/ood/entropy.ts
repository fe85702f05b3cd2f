/**
 * Predictive entropy and its histogram, for out-of-distribution analysis (the paper's Figure 4: histogram of
 * the entropy of softmax outputs on OOD data; higher entropy on OOD inputs is better). Pure array maths;
 * must not import tfjs, I/O or anything outside `@arcal/contracts`.
 */
import { ArcalError } from '@arcal/contracts';

/** Checks that a flat row-major [n, classes] array is well formed and returns n. */
export function rowCount(values: ArrayLike<number>, classes: number, name = 'probs'): number {
  if (!Number.isInteger(classes) || classes < 1)
    throw new ArcalError('INVALID_INPUT', `classes must be a positive integer, got ${classes}`);
  if (values.length % classes !== 0) {
    throw new ArcalError('INVALID_INPUT', `${name} has ${values.length} entries, not a multiple of classes=${classes}`);
  }
  return values.length / classes;
}

/**
 * Predictive entropy of each row: H(p) = −Σ_k p_k ln p_k (natural log, nats), with 0·ln 0 = 0.
 * Ranges over [0, ln K]. `probs` is row-major [n, classes].
 */
export function predictiveEntropy(probs: ArrayLike<number>, classes: number): Float64Array {
  const n = rowCount(probs, classes);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    const o = i * classes;
    for (let k = 0; k < classes; k++) {
      const p = probs[o + k];
      if (p > 0) h -= p * Math.log(p);
    }
    out[i] = h;
  }
  return out;
}

export interface Histogram {
  /** bins + 1 increasing edges; bin b covers [edges[b], edges[b+1]) and the last bin also holds its right edge. */
  edges: number[];
  /** Number of values in each bin. */
  counts: number[];
  /** counts / (total · bin width): integrates to 1 over the range when no value fell outside it. */
  density: number[];
  /** Values below range[0] or above range[1] (not counted in any bin). */
  outside: number;
}

/**
 * Equal-width histogram of `values` over [range[0], range[1]] with `bins` bins. Bin index
 * b = ⌊(v − lo)/(hi − lo) · bins⌋, with v = hi placed in the last bin. For predictive entropy use
 * range [0, ln K]. NaN values count as outside.
 */
export function entropyHistogram(values: ArrayLike<number>, bins: number, range: [number, number]): Histogram {
  const [lo, hi] = range;
  if (!Number.isInteger(bins) || bins < 1)
    throw new ArcalError('INVALID_INPUT', `bins must be a positive integer, got ${bins}`);
  if (!(hi > lo)) throw new ArcalError('INVALID_INPUT', `range must satisfy lo < hi, got [${lo}, ${hi}]`);
  const counts = new Array<number>(bins).fill(0);
  let outside = 0;
  const width = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) {
      outside++;
      continue;
    }
    const b = Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins));
    counts[b]++;
  }
  const edges = Array.from({ length: bins + 1 }, (_, b) => (b === bins ? hi : lo + b * width));
  const total = values.length;
  const density = counts.map((c) => (total > 0 ? c / (total * width) : 0));
  return { edges, counts, density, outside };
}
