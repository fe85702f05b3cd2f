/**
 * A linear softmax classifier z = Wx + b whose exact minimal L2 adversarial distance is known in closed form:
 *   d*(x) = min_{j≠ŷ} (z_ŷ − z_j) / ‖w_ŷ − w_j‖₂,
 * reached at x − (z_ŷ − z_j*)/‖w_ŷ − w_j*‖² · (w_ŷ − w_j*). Inputs are drawn in the interior of [0,1]^d and
 * only those whose minimiser lies inside the box are kept, so the box constraint does not bind and d* is
 * the exact box-constrained answer. Computed in float64 from the float32 weights the model uses.
 */
import { tf } from '../src/backend/index.ts';
import { Rng } from '../src/util/rng.ts';

export interface LinearProblem {
  d: number;
  k: number;
  n: number;
  W: Float32Array;
  b: Float32Array;
  x: Float32Array;
  exact: Float64Array;
  predicted: Int32Array;
  model: (x: tf.Tensor) => tf.Tensor2D;
  logits64: (row: Float32Array | Float64Array) => Float64Array;
  dispose: () => void;
}

export interface LinearOptions {
  n?: number;
  d?: number;
  k?: number;
  /** Standard deviation of W and b: the distances do not depend on it, the softmax sharpness does. */
  scale?: number;
  /**
   * 'gaussian' rows (default), or 'orthogonal' rows of equal norm: then every ‖w_ŷ − w_j‖ is the same, so the
   * closest boundary is the runner-up class's, the one a margin-following attack heads for.
   */
  rows?: 'gaussian' | 'orthogonal';
  /** Keep examples whose exact distance lies in [minDist, maxDist]. */
  minDist?: number;
  maxDist?: number;
}

export function linearProblem(seed: number, opts: LinearOptions = {}): LinearProblem {
  const {
    n = 32,
    d = 32,
    k = 10,
    scale = 1,
    minDist = 0.01,
    maxDist = Number.POSITIVE_INFINITY,
    rows = 'gaussian',
  } = opts;
  const rng = new Rng(seed);
  const W = Float32Array.from({ length: k * d }, () => scale * rng.normal());
  if (rows === 'orthogonal') {
    // Gram–Schmidt in float64, then every row scaled to norm scale·√d.
    const q = Array.from({ length: k }, (_, j) => Float64Array.from(W.subarray(j * d, (j + 1) * d)));
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[j][c] * q[i][c];
        for (let c = 0; c < d; c++) q[j][c] -= dot * q[i][c];
      }
      let nn = 0;
      for (let c = 0; c < d; c++) nn += q[j][c] ** 2;
      for (let c = 0; c < d; c++) q[j][c] /= Math.sqrt(nn);
      for (let c = 0; c < d; c++) W[j * d + c] = q[j][c] * scale * Math.sqrt(d);
    }
  }
  const b = Float32Array.from({ length: k }, () => scale * rng.normal());
  const logits64 = (row: Float32Array | Float64Array) => {
    const z = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let s = b[j];
      for (let c = 0; c < d; c++) s += W[j * d + c] * row[c];
      z[j] = s;
    }
    return z;
  };
  const xs: number[] = [];
  const exact: number[] = [];
  const predicted: number[] = [];
  while (exact.length < n) {
    const row = Float32Array.from({ length: d }, () => 0.3 + 0.4 * rng.next());
    const z = logits64(row);
    let y = 0;
    for (let j = 1; j < k; j++) if (z[j] > z[y]) y = j;
    let best = Number.POSITIVE_INFINITY;
    let arg = -1;
    for (let j = 0; j < k; j++) {
      if (j === y) continue;
      let nn = 0;
      for (let c = 0; c < d; c++) nn += (W[y * d + c] - W[j * d + c]) ** 2;
      const dist = (z[y] - z[j]) / Math.sqrt(nn);
      if (dist < best) {
        best = dist;
        arg = j;
      }
    }
    let nn = 0;
    for (let c = 0; c < d; c++) nn += (W[y * d + c] - W[arg * d + c]) ** 2;
    const t = (z[y] - z[arg]) / nn;
    let inside = best >= minDist && best <= maxDist;
    for (let c = 0; c < d && inside; c++) {
      const v = row[c] - t * (W[y * d + c] - W[arg * d + c]);
      if (v < 0.01 || v > 0.99) inside = false;
    }
    if (!inside) continue;
    xs.push(...row);
    exact.push(best);
    predicted.push(y);
  }
  const Wt = tf.keep(tf.tensor2d(W, [k, d]));
  const bt = tf.keep(tf.tensor1d(b));
  const model = (x: tf.Tensor) =>
    tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], d]), Wt, false, true), bt) as tf.Tensor2D);
  return {
    d,
    k,
    n,
    W,
    b,
    x: Float32Array.from(xs),
    exact: Float64Array.from(exact),
    predicted: Int32Array.from(predicted),
    model,
    logits64,
    dispose: () => {
      Wt.dispose();
      bt.dispose();
    },
  };
}

/** argmax with the lowest index winning ties. */
export const argmax = (z: ArrayLike<number>): number => {
  let best = 0;
  for (let j = 1; j < z.length; j++) if (z[j] > z[best]) best = j;
  return best;
};

/** Exact distance from example i to the half-space where class j beats ŷ. */
export function distanceToClass(p: LinearProblem, i: number, j: number): number {
  const y = p.predicted[i];
  const z = p.logits64(p.x.subarray(i * p.d, (i + 1) * p.d));
  let nn = 0;
  for (let c = 0; c < p.d; c++) nn += (p.W[y * p.d + c] - p.W[j * p.d + c]) ** 2;
  return (z[y] - z[j]) / Math.sqrt(nn);
}
