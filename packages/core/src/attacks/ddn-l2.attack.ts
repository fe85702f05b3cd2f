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
 * with α_k cosine-annealed from alphaInit to alphaFinal.
 *
 * First radius. The radius only moves by the factor 1 ± γ per step, so from a fixed ε₀ it reaches at best
 * ε₀(1 − γ)^steps: with the published ε₀ = 1, γ = 0.05 and 100 steps, 0.006. Every example closer to the
 * boundary than that is then reported at about that floor — a tie among exactly the least robust examples,
 * whose order AR-AdaLS needs — and, symmetrically, one much farther than ε₀ spends its steps growing the
 * radius. Unless `initNorm` is given, ε₀ is therefore each example's first-order distance estimate
 * ε₀ = m(x)/‖∇m(x)‖ (m the margin z_ŷ − max_{j≠ŷ} z_j; the distance to the linearised boundary, exact for an
 * affine margin without the box), floored at 1e-6 so a tie (m = 0) can still grow, and 1 where the
 * gradient is 0. The first step then lands at (1 + γ)ε₀ along the gradient and the remaining steps adjust
 * the radius around the boundary instead of travelling to it. When the box clips part of the step (pixels
 * at 0 or 1), the boundary is farther than the estimate and ε grows from it by (1 + γ) per step.
 *
 * Refinement. The best δ* sits on a radius that moves in steps of γ, so it can overshoot the boundary by up
 * to about γ‖δ*‖. Unless `refineSteps` says otherwise, the driver (index.ts) then bisects t ∈ (0, 1] for the
 * smallest t with x + tδ* adversarial, to 2^-10, which can only shorten δ* (DDN_DEFAULTS.refineSteps).
 *
 * Cost: `steps` forward+backward passes per example (default 100), one more backward pass at step 0 with
 * `ddnLoss: 'ce'` (the margin's gradient for ε₀), and 10 forward passes for the refinement. Examples whose
 * gradient is exactly 0 cannot move and leave the batch; the others run the whole schedule.
 */
import { DDN_DEFAULTS } from '@arcal/contracts';
import { softmaxCrossEntropyRows } from '@arcal/native';
import { tf } from '../backend/index.ts';
import {
  abortPoint,
  boundarySearch,
  column,
  cosineAnneal,
  margin,
  normaliseRows,
  rowNorms,
  whereRows,
} from './common.ts';
import type { BatchAttack } from './types.ts';

export { DDN_DEFAULTS };

/** Floor of the first-order ε₀ (an input exactly on a tie has margin 0; ε must stay positive to grow). */
const MIN_INIT_NORM = 1e-6;

/**
 * ε₀ = m(x)/‖∇m(x)‖, the distance to the margin's linearised boundary, floored at MIN_INIT_NORM; 1 (the
 * published ε₀) when the gradient vanishes, where there is no estimate (and such an example cannot move).
 */
const firstRadius = (m: number, gradNorm: number): number => {
  if (!(gradNorm > 0) || !Number.isFinite(m / gradNorm)) return 1;
  return Math.max(m / gradNorm, MIN_INIT_NORM);
};

export const ddnL2: BatchAttack = async (f, x, predicted, numClasses, params) => {
  const steps = params.steps ?? DDN_DEFAULTS.steps;
  const gamma = params.gamma ?? DDN_DEFAULTS.gamma;
  const a0 = params.alphaInit ?? DDN_DEFAULTS.alphaInit;
  const a1 = params.alphaFinal ?? DDN_DEFAULTS.alphaFinal;
  const useMargin = (params.ddnLoss ?? DDN_DEFAULTS.ddnLoss) === 'margin';
  const { n, store, found, bestNorm, set, flush } = boundarySearch(x, predicted, numClasses);
  const rank = x.rank;
  // ε₀: the given initNorm, else each example's first-order distance estimate, set at step 0 below.
  const eps = new Float64Array(n).fill(params.initNorm ?? 0);
  const estimate = params.initNorm === undefined;
  let iterations = 0;
  let exampleIterations = 0;

  try {
    for (let k = 0; k < steps && set.size > 0; k++) {
      await abortPoint(params.signal);
      let stats!: tf.Tensor;
      const grad = tf.tidy(() => {
        const xa = tf.add(set.get('x0'), set.get('delta'));
        let mg!: tf.Tensor;
        const g = tf.grad((xx: tf.Tensor) => {
          const z = f(xx);
          mg = tf.keep(margin(z, set.get('ymask')));
          if (useMargin) return tf.neg(tf.sum(mg));
          return tf.sum(softmaxCrossEntropyRows(z, set.get('ymask')));
        })(xa);
        // ‖∇m‖ for the first-order estimate of ε₀: the step's own gradient under the margin loss (g = −∇m),
        // one more backward pass at step 0 under the cross-entropy.
        const gm =
          k === 0 && estimate && !useMargin
            ? tf.grad((xx: tf.Tensor) => tf.sum(margin(f(xx), set.get('ymask'))))(xa)
            : g;
        stats = tf.keep(tf.stack([mg, rowNorms(set.get('delta')), rowNorms(g), rowNorms(gm)]));
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
        if (k === 0 && estimate) eps[gi] = firstRadius(sv[i], sv[3 * m + i]);
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
