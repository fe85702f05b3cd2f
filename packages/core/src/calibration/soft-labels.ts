/**
 * Adaptive label smoothing (paper §4.1, Algorithm 1). The state is one number per robustness subset r:
 * p̃_r, the soft label of the correct class. Everything else follows from it.
 */
import { asRows, type ProbRows, topLabel } from './metrics.ts';

/**
 * Per-example soft targets, Eq. 1: p̃_r = p_r(1 − ε_r) + ε_r/Z, i.e. the correct class gets p̃_r and every other
 * class (1 − p̃_r)/(Z − 1). Returns a flat N·Z Float32Array.
 */
export function softLabelTargets(
  labels: ArrayLike<number>,
  subsetOfExample: ArrayLike<number> | null,
  pTrue: ArrayLike<number>,
  Z: number,
): Float32Array {
  const out = new Float32Array(labels.length * Z);
  for (let i = 0; i < labels.length; i++) {
    const p = pTrue[subsetOfExample ? subsetOfExample[i] : 0];
    const other = (1 - p) / (Z - 1);
    out.fill(other, i * Z, (i + 1) * Z);
    out[i * Z + labels[i]] = p;
  }
  return out;
}

/** ε from the correct-class soft label, Eq. 4: ε = (p̃ − 1)·Z/(1 − Z). */
export const epsilonFromPTrue = (pTrue: number, Z: number): number => ((pTrue - 1) * Z) / (1 - Z);

/** Correct-class soft label of plain label smoothing with ε (Eq. 2): p̃ = 1 − ε + ε/Z. */
export const pTrueFromEpsilon = (epsilon: number, Z: number): number => 1 - epsilon + epsilon / Z;

export interface SubsetStat {
  /** Mean top-label confidence of the validation subset. */
  conf: number;
  /** Accuracy of the validation subset. */
  acc: number;
  count: number;
}

/** conf and acc of each validation subset (the inputs of Eq. 3). Empty subsets report conf = acc = 0. */
export function subsetStats(
  probs: ProbRows,
  labels: ArrayLike<number>,
  subsetOf: ArrayLike<number>,
  R: number,
): SubsetStat[] {
  const rows = asRows(probs, labels.length);
  const { pred, conf } = topLabel(rows);
  const s = Array.from({ length: R }, () => ({ conf: 0, acc: 0, count: 0 }));
  for (let i = 0; i < rows.n; i++) {
    const t = s[subsetOf[i]];
    t.count++;
    t.conf += conf[i];
    if (pred[i] === labels[i]) t.acc++;
  }
  for (const t of s) {
    if (t.count) {
      t.conf /= t.count;
      t.acc /= t.count;
    }
  }
  return s;
}

/**
 * One AdaLS / AR-AdaLS update after an epoch:
 * Eq. 3: p̃_{r,t+1} = p̃_{r,t} − α·(conf(S_r^val) − acc(S_r^val)); then clip to (1/Z, 1] (the lower end as
 * 1/Z + 1e-6); then Eq. 4: ε_r = (p̃_r − 1)·Z/(1 − Z). A subset with no validation examples keeps its value.
 */
export function updateSoftLabels(
  pTrue: ArrayLike<number>,
  valStats: ArrayLike<{ conf: number; acc: number; count?: number }>,
  opts: { alpha: number; numClasses: number },
): { pTrue: number[]; epsilon: number[] } {
  const Z = opts.numClasses;
  if (pTrue.length !== valStats.length)
    throw new RangeError(`${pTrue.length} soft labels but ${valStats.length} subsets`);
  const lo = 1 / Z + 1e-6;
  const next: number[] = [];
  for (let r = 0; r < pTrue.length; r++) {
    const st = valStats[r];
    const empty = st.count === 0;
    const p = empty ? pTrue[r] : pTrue[r] - opts.alpha * (st.conf - st.acc);
    next.push(Math.min(1, Math.max(lo, p)));
  }
  return { pTrue: next, epsilon: next.map((p) => epsilonFromPTrue(p, Z)) };
}
