/**
 * Fast Minimum-Norm attack, L2 (Pintor, Roli, Brendel & Biggio, NeurIPS 2021, Algorithm 1), untargeted
 * against the predicted class ŷ, inside the box [0,1].
 *
 * Loss: the margin L(x') = z_ŷ(x') − max_{j≠ŷ} z_j(x') (x' is adversarial when L < 0). At step k, with
 * g the box-feasible gradient of L at x + δ (below), the radius ε of the L2 ball is
 *   ε_k = min(ε_{k−1}(1 − γ_k), ‖δ*‖)            if x + δ is adversarial (δ* = best adversarial so far),
 *   ε_k = ε_{k−1}(1 + γ_k)                         if not, once some adversarial has been found,
 *   ε_k = (‖δ‖ + L / ‖g‖)(1 + γ_k)                 if not and none has been found yet (linear extrapolation
 *                                                  to the boundary; the factor 1 + γ_k, absent from the
 *                                                  paper, makes it cross an affine boundary instead of
 *                                                  landing on it, where float noise can keep it unfooled);
 * then δ ← δ − α_k g/‖g‖, δ ← δ · min(1, ε_k/‖δ‖) (projection on the ball), δ ← clip_[0,1](x + δ) − x.
 * α and γ are cosine-annealed: α from alphaInit to alphaFinal, γ from gammaInit to gammaFinal.
 *
 * Box-feasible gradient (not in the paper, which uses ∇L itself): g_i = ∂L/∂x_i, except g_i = 0 where the
 * pixel x_i + δ_i sits at 0 (within 1e-6) and ∂L/∂x_i > 0, or at 1 and ∂L/∂x_i < 0 — the components along
 * which a step −g would only leave the box and be clipped away. With the raw gradient, examples whose
 * boundary is much closer than the step length (ε ≪ α_k, the least robust ones) fail on inputs with pixels
 * at the bounds, such as an image background at 0: the projection replaces δ by about −ε ∇L/‖∇L‖ at every
 * step, the clip then removes the outward components, so δ moves the margin by only ε r²‖∇L‖ (r the share
 * of ‖∇L‖ on movable pixels) while the extrapolation assumes ε‖∇L‖. For an affine margin the sequence of ε
 * then converges to (1 + γ)L₀/(‖∇L‖(1 − r(1 − r)(1 + γ))), short of the L₀/(‖∇L‖r²) that crossing needs
 * unless r is close to 1, so no adversarial point is ever found and the example is reported unfooled.
 * (Farther examples escaped this because with ε comparable to α the feasible part of δ accumulates across
 * steps.) With g, the step direction is the steepest descent within the box face, L/‖g‖ is the distance to
 * the linearised boundary within it, and the clip only trims pixels that reach a bound during the step;
 * away from the bounds g = ∇L and the iteration is the published one.
 *
 * Cost: `steps` forward+backward passes per example (default 100). Examples whose box-feasible gradient is
 * exactly 0 cannot move and leave the batch; the others follow the annealing schedule to its end (it is
 * what makes the radius converge).
 */
import { FMN_DEFAULTS } from '@arcal/contracts';
import { boxFeasibleGradient } from '@arcal/native';
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

/** A pixel within this of 0 or 1 counts as being on that bound of the box. */
const BOX_TOL = 1e-6;

export { FMN_DEFAULTS };

export const fmnL2: BatchAttack = async (f, x, predicted, numClasses, params) => {
  const steps = params.steps ?? FMN_DEFAULTS.steps;
  const a0 = params.alphaInit ?? FMN_DEFAULTS.alphaInit;
  const a1 = params.alphaFinal ?? a0 / 100;
  const g0 = params.gammaInit ?? FMN_DEFAULTS.gammaInit;
  const g1 = params.gammaFinal ?? FMN_DEFAULTS.gammaFinal;
  const { n, store, found, bestNorm, set, flush } = boundarySearch(x, predicted, numClasses);
  const rank = x.rank;
  const eps = new Float64Array(n);
  let iterations = 0;
  let exampleIterations = 0;

  try {
    for (let k = 0; k < steps && set.size > 0; k++) {
      await abortPoint(params.signal);
      let stats!: tf.Tensor;
      const grad = tf.tidy(() => {
        const xa = tf.add(set.get('x0'), set.get('delta'));
        const g = tf.grad((xx: tf.Tensor) => {
          const mg = margin(f(xx), set.get('ymask'));
          stats = tf.keep(mg);
          return tf.sum(mg);
        })(xa);
        // Box-feasible gradient: a pixel at 0 (or 1) cannot move along −g where g > 0 (g < 0). One native kernel
        // on the native backend, the same selection as tf ops elsewhere (bit-identical); g is already computed
        // here, outside the tape, so the op needs no gradient of its own.
        const gf = boxFeasibleGradient(xa, g, BOX_TOL);
        const s = tf.stack([stats, rowNorms(set.get('delta')), rowNorms(gf)]);
        stats.dispose();
        stats = tf.keep(s);
        return gf;
      });
      const sv = (await stats.data()) as Float32Array;
      stats.dispose();
      iterations++;
      const m = set.size;
      exampleIterations += m;
      const better = new Uint8Array(m);
      const moving = new Uint8Array(m);
      const epsCol = new Float32Array(m);
      const gamma = cosineAnneal(g0, g1, k, steps);
      const alpha = cosineAnneal(a0, a1, k, steps);
      let anyBetter = false;
      for (let i = 0; i < m; i++) {
        const gi = set.rows[i];
        const mg = sv[i];
        const dn = sv[m + i];
        const gn = sv[2 * m + i];
        moving[i] = gn > 0 ? 1 : 0;
        if (mg < 0) {
          if (dn < bestNorm[gi]) {
            bestNorm[gi] = dn;
            better[i] = 1;
            found[gi] = 1;
            anyBetter = true;
          }
          eps[gi] = Math.min(eps[gi] * (1 - gamma), bestNorm[gi]);
        } else if (found[gi]) {
          eps[gi] = eps[gi] * (1 + gamma);
        } else {
          // (1 + γ_k): cross an affine boundary rather than land on it (where float noise may keep it unfooled)
          eps[gi] = gn > 0 ? (dn + mg / gn) * (1 + gamma) : 0;
        }
        epsCol[i] = eps[gi];
      }
      tf.tidy(() => {
        const x0 = set.get('x0');
        const delta = set.get('delta');
        if (anyBetter) set.set('best', whereRows(better, tf.add(x0, delta), set.get('best')));
        const stepped = tf.sub(delta, tf.mul(normaliseRows(grad), alpha));
        const norm = rowNorms(stepped);
        const e = tf.tensor1d(epsCol);
        const scale = tf.where(tf.greater(norm, e), tf.div(e, tf.maximum(norm, 1e-30)), tf.onesLike(norm));
        const projected = tf.mul(stepped, column(scale as tf.Tensor1D, rank));
        set.set('delta', tf.sub(tf.clipByValue(tf.add(x0, projected), 0, 1), x0));
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
