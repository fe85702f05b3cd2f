/**
 * Calibration and accuracy metrics over plain arrays: probabilities in, numbers out. No tensors, so they can
 * run anywhere (workers, API-side report rendering, tests) and be checked by hand.
 *
 * `probs` is either one row per example (`number[][]`) or a flat row-major array of N·Z values whose Z is
 * inferred from `labels.length`.
 */
export type ProbRows = ArrayLike<number> | ArrayLike<number>[];

export interface Rows {
  n: number;
  z: number;
  get(i: number, k: number): number;
}

export function asRows(probs: ProbRows, n: number): Rows {
  if (n === 0) return { n: 0, z: 0, get: () => 0 };
  const first = (probs as ArrayLike<number>[])[0];
  if (typeof first === 'object' && first !== null) {
    const rows = probs as ArrayLike<number>[];
    if (rows.length !== n) throw new RangeError(`probs has ${rows.length} rows but labels has ${n}`);
    return { n, z: rows[0].length, get: (i, k) => rows[i][k] };
  }
  const flat = probs as ArrayLike<number>;
  const z = flat.length / n;
  if (!Number.isInteger(z) || z < 1)
    throw new RangeError(`probs length ${flat.length} is not a multiple of ${n} labels`);
  return { n, z, get: (i, k) => flat[i * z + k] };
}

/** Predicted class (first maximum) and its probability for every example. */
export function topLabel(rows: Rows): { pred: Int32Array; conf: Float64Array } {
  const pred = new Int32Array(rows.n);
  const conf = new Float64Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    let best = 0;
    let bp = rows.get(i, 0);
    for (let k = 1; k < rows.z; k++) {
      const p = rows.get(i, k);
      if (p > bp) {
        bp = p;
        best = k;
      }
    }
    pred[i] = best;
    conf[i] = bp;
  }
  return { pred, conf };
}

export interface ReliabilityBin {
  count: number;
  /** Accuracy of the bin's examples (0 when empty). */
  acc: number;
  /** Mean top-label confidence of the bin's examples (0 when empty). */
  conf: number;
}

export interface EceOptions {
  bins?: number;
  norm?: 'l1' | 'l2' | 'max';
}

/**
 * Equal-width reliability bins over top-label confidence: bin k holds confidences in (k/K, (k+1)/K];
 * confidence 0 goes to the first bin.
 */
export function reliabilityDiagram(
  probs: ProbRows,
  labels: ArrayLike<number>,
  opts: { bins?: number } = {},
): ReliabilityBin[] {
  const K = opts.bins ?? 15;
  const rows = asRows(probs, labels.length);
  const { pred, conf } = topLabel(rows);
  const count = new Float64Array(K);
  const correct = new Float64Array(K);
  const confSum = new Float64Array(K);
  for (let i = 0; i < rows.n; i++) {
    const b = Math.min(K - 1, Math.max(0, Math.ceil(conf[i] * K) - 1));
    count[b]++;
    confSum[b] += conf[i];
    if (pred[i] === labels[i]) correct[b]++;
  }
  return Array.from({ length: K }, (_, k) => ({
    count: count[k],
    acc: count[k] ? correct[k] / count[k] : 0,
    conf: count[k] ? confSum[k] / count[k] : 0,
  }));
}

/**
 * Expected calibration error of the top label (Guo et al. 2017), with equal-width bins (k/K, (k+1)/K]:
 * - 'l1':  Σ_k (n_k/N)·|acc_k − conf_k|
 * - 'l2':  sqrt(Σ_k (n_k/N)·(acc_k − conf_k)²)
 * - 'max': max over non-empty bins of |acc_k − conf_k|
 * Returns 0 for no examples.
 */
export function expectedCalibrationError(probs: ProbRows, labels: ArrayLike<number>, opts: EceOptions = {}): number {
  const n = labels.length;
  if (n === 0) return 0;
  const bins = reliabilityDiagram(probs, labels, { bins: opts.bins ?? 15 });
  const norm = opts.norm ?? 'l1';
  let acc = 0;
  for (const b of bins) {
    if (!b.count) continue;
    const gap = Math.abs(b.acc - b.conf);
    if (norm === 'l1') acc += (b.count / n) * gap;
    else if (norm === 'l2') acc += (b.count / n) * gap * gap;
    else acc = Math.max(acc, gap);
  }
  return norm === 'l2' ? Math.sqrt(acc) : acc;
}

/** Share of examples whose first-maximum class equals the label. */
export function accuracy(probs: ProbRows, labels: ArrayLike<number>): number {
  if (!labels.length) return 0;
  const { pred } = topLabel(asRows(probs, labels.length));
  let c = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) c++;
  return c / labels.length;
}

/** Mean top-label confidence. */
export function meanConfidence(probs: ProbRows, labels: ArrayLike<number>): number {
  if (!labels.length) return 0;
  const { conf } = topLabel(asRows(probs, labels.length));
  let s = 0;
  for (const c of conf) s += c;
  return s / labels.length;
}

/** Mean negative log-likelihood −(1/N) Σ log p_i,y_i, with p floored at 1e-12. */
export function negativeLogLikelihood(probs: ProbRows, labels: ArrayLike<number>): number {
  const rows = asRows(probs, labels.length);
  let s = 0;
  for (let i = 0; i < rows.n; i++) s -= Math.log(Math.max(1e-12, rows.get(i, labels[i])));
  return rows.n ? s / rows.n : 0;
}

/** Multi-class Brier score (1/N) Σ_i Σ_k (p_ik − 1[k = y_i])². */
export function brierScore(probs: ProbRows, labels: ArrayLike<number>): number {
  const rows = asRows(probs, labels.length);
  let s = 0;
  for (let i = 0; i < rows.n; i++) {
    for (let k = 0; k < rows.z; k++) {
      const d = rows.get(i, k) - (k === labels[i] ? 1 : 0);
      s += d * d;
    }
  }
  return rows.n ? s / rows.n : 0;
}

export interface ClassificationSummary {
  accuracy: number;
  nll: number;
  ece: number;
  brier: number;
  confidence: number;
  count: number;
}

/** Accuracy, NLL, ECE (l1, K bins), Brier and mean confidence in one call. */
export function classificationSummary(probs: ProbRows, labels: ArrayLike<number>, bins = 15): ClassificationSummary {
  return {
    accuracy: accuracy(probs, labels),
    nll: negativeLogLikelihood(probs, labels),
    ece: expectedCalibrationError(probs, labels, { bins }),
    brier: brierScore(probs, labels),
    confidence: meanConfidence(probs, labels),
    count: labels.length,
  };
}
