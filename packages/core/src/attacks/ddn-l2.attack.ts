/**
 * Decoupled Direction and Norm attack (Rony, Hafemann, Oliveira, Ben Ayed, Sabourin & Granger, CVPR 2019,
 * Algorithm 1), untargeted against the predicted class ŷ, inside the box [0,1], without the optional
 * 8-bit quantisation step.
 *
 * Loss, ascended: by default the negative margin J(x') = max_{j≠ŷ} z_j(x') − z_ŷ(x'); `ddnLoss: 'ce'` gives the
 * published cross-entropy J(x') = −log softmax(z(x'))_ŷ. The margin is arcal's default because the
 * cross-entropy gradient points at the probability-weighted mixture of all other classes, so on the sphere
 * the iterates settle where that mixture, not the nearest boundary, is normal to it: on 10-class linear
 * classifiers whose softmax is not sharp this overstated the exact distance by up to ~24 %, against
 * < 0.3 % with the margin (orthogonal-row linear fixture of the attack tests). At step k, with g = ∇J(x + δ_k):
 *   if x + δ_k is adversarial (argmax ≠ ŷ) and ‖δ_k‖ < ‖δ*‖ it becomes the best δ*;
 *   ε ← ε(1 − γ) if x + δ_k is adversarial, else ε(1 + γ);
 *   δ ← δ + α_k g/‖g‖,  δ ← ε δ/‖δ‖ (onto the sphere of radius ε),  δ ← clip_[0,1](x + δ) − x,
 * with ε₀ = initNorm and α_k cosine-annealed from alphaInit to alphaFinal.
 *
 * Cost: `steps` forward+backward passes per example (default 100). Examples whose gradient is exactly 0
 * cannot move and leave the batch; the others run the whole schedule.
 */
import { tf } from '../backend/index.ts';
import {
  ActiveSet,
  column,
  cosineAnneal,
  margin,
  normaliseRows,
  oneHot,
  rowNorms,
  whereRows,
  writeRows,
} from './common.ts';
import type { BatchAttack } from './types.ts';

export const DDN_DEFAULTS = {
  steps: 100,
  gamma: 0.05,
  initNorm: 1,
  alphaInit: 1,
  alphaFinal: 0.01,
  ddnLoss: 'margin',
} as const;

export const ddnL2: BatchAttack = async (f, x, predicted, numClasses, params) => {
  const steps = params.steps ?? DDN_DEFAULTS.steps;
  const gamma = params.gamma ?? DDN_DEFAULTS.gamma;
  const a0 = params.alphaInit ?? DDN_DEFAULTS.alphaInit;
  const a1 = params.alphaFinal ?? DDN_DEFAULTS.alphaFinal;
  const useMargin = (params.ddnLoss ?? DDN_DEFAULTS.ddnLoss) === 'margin';
  const n = x.shape[0];
  const d = x.size / n;
  const rank = x.rank;
  const store = new Float32Array(n * d);
  const found = new Uint8Array(n);
  const bestNorm = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const eps = new Float64Array(n).fill(params.initNorm ?? DDN_DEFAULTS.initNorm);
  let iterations = 0;
  let exampleIterations = 0;

  const set = new ActiveSet(n);
  set.set('x0', x.clone());
  set.set('delta', tf.zerosLike(x));
  set.set('ymask', oneHot(predicted, numClasses));
  set.set('best', x.clone());
  const flush = async (local: Int32Array) => {
    const l = Int32Array.from(Array.from(local).filter((i) => found[set.rows[i]]));
    await writeRows(
      store,
      d,
      set.get('best'),
      l,
      Int32Array.from(l, (i) => set.rows[i]),
    );
  };
  try {
    for (let k = 0; k < steps && set.size > 0; k++) {
      let stats!: tf.Tensor;
      const grad = tf.tidy(() => {
        const xa = tf.add(set.get('x0'), set.get('delta'));
        let mg!: tf.Tensor;
        const g = tf.grad((xx: tf.Tensor) => {
          const z = f(xx);
          mg = tf.keep(margin(z, set.get('ymask')));
          if (useMargin) return tf.neg(tf.sum(mg));
          return tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), set.get('ymask'))));
        })(xa);
        stats = tf.keep(tf.stack([mg, rowNorms(set.get('delta')), rowNorms(g)]));
        mg.dispose();
        return g;
      });
      const sv = (await stats.data()) as Float32Array;
      stats.dispose();
      iterations++;
      const m = set.size;
      exampleIterations += m;
      const better = new Uint8Array(m);
      const moving = new Uint8Array(m);
      const epsCol = new Float32Array(m);
      let anyBetter = false;
      for (let i = 0; i < m; i++) {
        const gi = set.rows[i];
        const adv = sv[i] < 0;
        const dn = sv[m + i];
        moving[i] = sv[2 * m + i] > 0 ? 1 : 0;
        if (adv && dn < bestNorm[gi]) {
          bestNorm[gi] = dn;
          better[i] = 1;
          found[gi] = 1;
          anyBetter = true;
        }
        eps[gi] *= adv ? 1 - gamma : 1 + gamma;
        epsCol[i] = eps[gi];
      }
      const alpha = cosineAnneal(a0, a1, k, steps);
      tf.tidy(() => {
        const x0 = set.get('x0');
        const delta = set.get('delta');
        if (anyBetter) set.set('best', whereRows(better, tf.add(x0, delta), set.get('best')));
        const stepped = tf.add(delta, tf.mul(normaliseRows(grad), alpha));
        const onSphere = tf.mul(normaliseRows(stepped), column(epsCol, rank));
        set.set('delta', tf.sub(tf.clipByValue(tf.add(x0, onSphere), 0, 1), x0));
      });
      grad.dispose();
      if (moving.includes(0)) {
        await flush(Int32Array.from(Array.from(moving.keys()).filter((i) => !moving[i])));
        set.compact(moving);
      }
    }
    await flush(Int32Array.from({ length: set.size }, (_, i) => i));
  } finally {
    set.dispose();
  }
  return { adversarial: store, found, iterations, exampleIterations };
};
