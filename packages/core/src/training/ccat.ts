/**
 * Confidence-calibrated adversarial training (CCAT, Stutz, Hein & Schiele 2020), the paper's baseline (6):
 * half of every batch is trained on clean inputs with one-hot targets, the other half on adversarial inputs
 * whose targets decay from the one-hot label towards uniform as the perturbation grows,
 *
 *   t(x + δ) = λ(δ)·onehot(y) + (1 − λ(δ))·1/K,   λ(δ) = (1 − min(1, ‖δ‖∞/ε))^ρ.
 *
 * The adversarial inputs come from a confidence-maximising PGD in the L∞ ball of radius ε (intersected with
 * the image box [0, 1]): it maximises the largest probability of a class other than the label,
 * max_{k≠y} softmax(f(x + δ))_k, so that the model learns low confidence away from the data.
 *
 * Cost: every PGD step is one forward and one input-gradient backward pass on half the batch, about half a
 * training step; with the default 10 steps a CCAT epoch costs about six vanilla epochs.
 *
 * Tensor code in tf.tidy; imports nothing beyond tfjs, the model type and the target arithmetic.
 */
import { ArcalError, type ResolvedSpec } from '@arcal/contracts';
import { tf } from '../backend/index.ts';
import type { Model } from '../models/index.ts';
import { ccatLambda, ccatTargets } from '../posthoc/ccat-targets.ts';
import type { Rng } from '../util/rng.ts';

export interface CcatParams {
  /** L∞ radius ε of the attack and of the target transition. */
  epsilon: number;
  /** PGD iterations. */
  steps: number;
  /** Signed-gradient step size. */
  stepSize: number;
  /** ρ of the power transition λ(δ). */
  rho: number;
}

export interface PgdResult {
  /** Adversarial inputs, same layout as the clean ones. */
  xAdv: Float32Array;
  /** ‖δᵢ‖∞ = maxⱼ |x_advᵢⱼ − xᵢⱼ| per example. */
  deltaLinf: Float32Array;
  /** The objective max_{k≠y} p_k at the returned input, per example. */
  confidence: Float32Array;
}

/**
 * max_{k≠yᵢ} softmax(zᵢ)_k per row: the confidence in the most likely wrong class. Probabilities are ≥ 0, so
 * zeroing the label's column and taking the row maximum gives it exactly.
 */
export function maxOtherClassProbability(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const notLabel = tf.sub(1, tf.oneHot(labels, logits.shape[1]).toFloat());
    return tf.max(tf.mul(tf.softmax(logits), notLabel), 1) as tf.Tensor1D;
  });
}

/**
 * Confidence-maximising PGD (CCAT's attack): δ₀ uniform in [−ε, ε] (projected into the image box), then
 * `steps` updates x ← Π(x + η·sign(∇ₓ Σᵢ max_{k≠yᵢ} pₖ(x))), Π the projection onto
 * {x' : ‖x' − x₀‖∞ ≤ ε, 0 ≤ x' ≤ 1}. Returns, per example, the iterate with the highest objective (as Stutz et
 * al. do). The model runs in inference mode (batch-norm moving statistics), so the attack changes no state.
 */
export function confidenceMaximisingPgd(
  model: Pick<Model, 'apply'>,
  x: Float32Array,
  labels: Int32Array,
  shape: [number, number, number, number],
  p: Pick<CcatParams, 'epsilon' | 'steps' | 'stepSize'>,
  rng: Rng,
): PgdResult {
  const [n, h, w, c] = shape;
  const per = h * w * c;
  const init = new Float32Array(n * per);
  for (let i = 0; i < init.length; i++) init[i] = (rng.next() * 2 - 1) * p.epsilon;
  const x0 = tf.tensor4d(x, shape);
  const lo = tf.tidy(() => tf.maximum(tf.sub(x0, p.epsilon), 0));
  const hi = tf.tidy(() => tf.minimum(tf.add(x0, p.epsilon), 1));
  const yt = tf.tensor1d(labels, 'int32');
  const objective = (xi: tf.Tensor) => maxOtherClassProbability(model.apply(xi, false), yt);
  const valueAndGrad = tf.valueAndGrad(objective as (xi: tf.Tensor) => tf.Tensor);

  let xi = tf.tidy(() => tf.minimum(tf.maximum(tf.add(x0, tf.tensor4d(init, shape)), lo), hi));
  const best = new Float32Array(x.length);
  const bestConf = new Float32Array(n).fill(Number.NEGATIVE_INFINITY);
  const keepBetter = (cur: tf.Tensor, conf: Float32Array) => {
    let data: Float32Array | undefined;
    for (let i = 0; i < n; i++) {
      if (conf[i] > bestConf[i]) {
        data ??= cur.dataSync() as Float32Array;
        bestConf[i] = conf[i];
        best.set(data.subarray(i * per, (i + 1) * per), i * per);
      }
    }
  };
  for (let s = 0; s < p.steps; s++) {
    const { value, grad } = valueAndGrad(xi);
    keepBetter(xi, value.dataSync() as Float32Array);
    const next = tf.tidy(() => tf.minimum(tf.maximum(tf.add(xi, tf.mul(tf.sign(grad), p.stepSize)), lo), hi));
    tf.dispose([value, grad, xi]);
    xi = next;
  }
  const last = tf.tidy(() => objective(xi));
  keepBetter(xi, last.dataSync() as Float32Array);
  tf.dispose([last, xi, x0, lo, hi, yt]);

  const deltaLinf = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let k = i * per; k < (i + 1) * per; k++) m = Math.max(m, Math.abs(best[k] - x[k]));
    deltaLinf[i] = m;
  }
  return { xAdv: best, deltaLinf, confidence: bestConf };
}

/**
 * Turns a shuffled batch into a CCAT batch in place: rows [⌊b/2⌋, b) are replaced by their confidence-maximising
 * PGD examples and their targets by λ(δ)·onehot(y) + (1 − λ(δ))/K (rows [0, ⌊b/2⌋) keep their clean inputs and
 * the targets the caller built). Returns the λ and ‖δ‖∞ of the adversarial rows.
 */
export function ccatBatch(
  model: Pick<Model, 'apply'>,
  xb: Float32Array,
  targets: Float32Array,
  labels: Int32Array,
  shape: [number, number, number],
  classes: number,
  p: CcatParams,
  rng: Rng,
): { lambdas: Float32Array; deltaLinf: Float32Array } {
  const b = labels.length;
  const [h, w, c] = shape;
  const per = h * w * c;
  const start = b >> 1;
  const nAdv = b - start;
  if (nAdv === 0 || p.steps === 0) return { lambdas: new Float32Array(0), deltaLinf: new Float32Array(0) };
  const advLabels = labels.subarray(start);
  const r = confidenceMaximisingPgd(model, xb.subarray(start * per), advLabels, [nAdv, h, w, c], p, rng);
  xb.set(r.xAdv, start * per);
  const lambdas = Float32Array.from(r.deltaLinf, (d) => ccatLambda(d, p.epsilon, p.rho));
  targets.set(ccatTargets(advLabels, lambdas, classes), start * classes);
  return { lambdas, deltaLinf: r.deltaLinf };
}

/** The resolved CCAT parameters of a spec (filled by the contracts' defaults for method ccat). */
export function ccatParamsOf(spec: ResolvedSpec): CcatParams {
  const c = spec.method.ccat;
  if (!c)
    throw new ArcalError(
      'INVALID_INPUT',
      'method ccat needs method.ccat parameters (resolve the spec with validateSpec)',
    );
  return c;
}
