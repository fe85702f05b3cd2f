/**
 * Carlini & Wagner L2 (IEEE S&P 2017, §V.A), untargeted against the predicted class ŷ, κ = 0.
 *
 * Change of variables x' = (tanh w + 1)/2 keeps x' in the box. For a constant c each example minimises
 *   ‖x'(w) − x‖₂² + c · max(z_ŷ(x') − max_{j≠ŷ} z_j(x'), −κ)
 * with Adam from w₀ = atanh((2x − 1)(1 − 10⁻⁶)) (the factor keeps pixels at 0 or 1 finite). A binary
 * search over c per example follows each round: success (some iterate with argmax ≠ ŷ) lowers the upper
 * bound, failure raises the lower bound (×10 while no upper bound exists). Every iterate that is
 * adversarial and closer than the best so far replaces it, so the result is the smallest successful
 * perturbation seen over all rounds. Early abort, checked every ⌈steps/10⌉ steps against each example's loss
 * at the previous check: with abortRule 'all' (the default) the round ends once no example's loss has fallen
 * below 0.9999 × that value, as the published code does for its batch; with 'each' an example whose own loss
 * has stalled leaves the round at once (and the batch, so the rest run faster), which ends many examples'
 * rounds while the Adam steps that would still have shrunk them were only slowing down.
 *
 * Defaults: 9 rounds × 200 steps, learning rate 0.1 cosine-annealed to 0.001 within each round, c₀ = 0.1. At
 * a constant 0.01 (the published rate, and version-1 specs' default) a pixel at exactly 0 or 1 starts at
 * |w| ≈ 7.25 and needs hundreds of Adam steps before it can move, so C&W cannot use an image's background; a
 * constant 0.1 reaches it but is too coarse to settle on the boundary, hence the annealing.
 * Cost: at most binarySearchSteps × steps forward+backward passes per example (defaults 9 × 200 = 1800;
 * early abort usually stops well before). The original paper used 9 × 10 000 steps at learning rate 0.01.
 */
import { CW_DEFAULTS } from '@arcal/contracts';
import { tf } from '../backend/index.ts';
import { ActiveSet, abortPoint, cosineAnneal, margin, oneHot, whereRows, writeRows } from './common.ts';
import type { BatchAttack } from './types.ts';

export { CW_DEFAULTS };

const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-8;
const TANH_SHRINK = 1 - 1e-6;
const NO_BOUND = 1e10;

export const cwL2: BatchAttack = async (f, x, predicted, numClasses, params) => {
  const rounds = params.binarySearchSteps ?? CW_DEFAULTS.binarySearchSteps;
  const steps = params.steps ?? CW_DEFAULTS.steps;
  const lr0 = params.learningRate ?? CW_DEFAULTS.learningRate;
  const lr1 = params.learningRateFinal ?? lr0 * (params.learningRateFinalRatio ?? CW_DEFAULTS.learningRateFinalRatio);
  const c0 = params.initialConst ?? CW_DEFAULTS.initialConst;
  const abortEarly = params.abortEarly ?? CW_DEFAULTS.abortEarly;
  const eachLeaves = (params.abortRule ?? CW_DEFAULTS.abortRule) === 'each';
  const n = x.shape[0];
  const d = x.size / n;
  const store = new Float32Array(n * d);
  const found = new Uint8Array(n);
  const bestL2 = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const lo = new Float64Array(n);
  const hi = new Float64Array(n).fill(NO_BOUND);
  const c = new Float64Array(n).fill(c0);
  const checkEvery = Math.max(1, Math.ceil(steps / 10));
  let iterations = 0;
  let exampleIterations = 0;

  const w0 = tf.tidy(() => tf.atanh(tf.mul(tf.sub(tf.mul(x, 2), 1), TANH_SHRINK)));
  const ymaskAll = oneHot(predicted, numClasses);
  try {
    for (let round = 0; round < rounds; round++) {
      const set = new ActiveSet(n);
      const roundSuccess = new Uint8Array(n);
      const improved = new Uint8Array(n); // the round's 'best' row holds a new overall best
      const prevLoss = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
      set.set('w', w0.clone());
      set.set('m', tf.zerosLike(x));
      set.set('v', tf.zerosLike(x));
      set.set('x0', x.clone());
      set.set('ymask', ymaskAll.clone());
      set.set('c', tf.tensor1d(Float32Array.from(c)));
      set.set('best', x.clone());
      // Writes the round's improved rows of the given local indices to the store.
      const flush = async (local: Int32Array) => {
        const sel = Array.from(local).filter((i) => improved[set.rows[i]]);
        const l = Int32Array.from(sel);
        await writeRows(
          store,
          d,
          set.get('best'),
          l,
          Int32Array.from(l, (i) => set.rows[i]),
        );
      };
      try {
        for (let step = 1; step <= steps && set.size > 0; step++) {
          await abortPoint(params.signal);
          let xw!: tf.Tensor;
          let stats!: tf.Tensor;
          const grad = tf.tidy(() => {
            const x0 = set.get('x0');
            const cs = set.get('c');
            const ymask = set.get('ymask');
            return tf.grad((w: tf.Tensor) => {
              const xp = tf.add(tf.mul(tf.tanh(w), 0.5), 0.5);
              const l2 = tf.sum(
                tf.square(tf.sub(xp, x0)),
                xp.shape.slice(1).map((_, i) => i + 1),
              );
              const mg = margin(f(xp), ymask);
              const loss = tf.add(l2, tf.mul(cs, tf.relu(mg))); // κ = 0: max(m, 0)
              xw = tf.keep(xp);
              stats = tf.keep(tf.stack([l2, mg, loss]));
              return tf.sum(loss);
            })(set.get('w'));
          });
          // Adam on w (bias-corrected), all examples of the round share the step counter.
          const lr = cosineAnneal(lr0, lr1, step - 1, steps - 1);
          tf.tidy(() => {
            const m = tf.add(tf.mul(set.get('m'), BETA1), tf.mul(grad, 1 - BETA1));
            const v = tf.add(tf.mul(set.get('v'), BETA2), tf.mul(tf.square(grad), 1 - BETA2));
            const mh = tf.div(m, 1 - BETA1 ** step);
            const vh = tf.div(v, 1 - BETA2 ** step);
            set.set('w', tf.sub(set.get('w'), tf.mul(lr, tf.div(mh, tf.add(tf.sqrt(vh), ADAM_EPS)))));
            set.set('m', m);
            set.set('v', v);
          });
          grad.dispose();
          const sv = (await stats.data()) as Float32Array;
          stats.dispose();
          iterations++;
          exampleIterations += set.size;
          const k = set.size;
          const better = new Uint8Array(k);
          let anyBetter = false;
          for (let i = 0; i < k; i++) {
            const g = set.rows[i];
            const l2 = sv[i];
            if (sv[k + i] < 0) {
              roundSuccess[g] = 1;
              if (l2 < bestL2[g]) {
                bestL2[g] = l2;
                better[i] = 1;
                improved[g] = 1;
                found[g] = 1;
                anyBetter = true;
              }
            }
          }
          if (anyBetter) {
            tf.tidy(() => set.set('best', whereRows(better, xw, set.get('best'))));
          }
          xw.dispose();
          if (abortEarly && step % checkEvery === 0) {
            const keep = new Uint8Array(k);
            for (let i = 0; i < k; i++) {
              const loss = sv[2 * k + i];
              const g = set.rows[i];
              if (loss <= prevLoss[g] * 0.9999) keep[i] = 1;
              prevLoss[g] = loss;
            }
            if (!eachLeaves) {
              if (!keep.includes(1)) break;
            } else {
              const leaving = Int32Array.from(Array.from(keep.keys()).filter((i) => !keep[i]));
              if (leaving.length > 0) {
                await flush(leaving);
                set.compact(keep);
              }
            }
          }
        }
        await flush(Int32Array.from({ length: set.size }, (_, i) => i));
      } finally {
        set.dispose();
      }
      for (let g = 0; g < n; g++) {
        if (roundSuccess[g]) {
          hi[g] = Math.min(hi[g], c[g]);
          c[g] = (lo[g] + hi[g]) / 2;
        } else {
          lo[g] = Math.max(lo[g], c[g]);
          c[g] = hi[g] < NO_BOUND ? (lo[g] + hi[g]) / 2 : c[g] * 10;
        }
      }
    }
  } finally {
    w0.dispose();
    ymaskAll.dispose();
  }
  return { adversarial: store, found, iterations, exampleIterations };
};
