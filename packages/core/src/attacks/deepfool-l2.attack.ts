/**
 * DeepFool, L2 (Moosavi-Dezfooli, Fawzi & Frossard, CVPR 2016, Algorithm 2 with overshoot), untargeted
 * against the predicted class ŷ, kept inside the box [0,1].
 *
 * At the current point xᵢ and for each candidate class k ≠ ŷ, with f_k = z_k(xᵢ) − z_ŷ(xᵢ) and
 * w_k = ∇ₓ(z_k − z_ŷ)(xᵢ), the linearised classifier is crossed first at l = argmin_k |f_k| / ‖w_k‖₂ by
 *   rᵢ = (|f_l| + 10⁻⁴) / ‖w_l‖₂² · w_l ;
 * the steps accumulate into the total r, and x_{i+1} = clip_[0,1](x + (1 + η) r). With `clipTotal` (the
 * default) the total is kept inside the box, r ← clip_[0,1](x + r + rᵢ) − x: a part of a step that the box
 * removes is dropped for good. Without it (version-1 specs) r = Σ rᵢ, and a pixel pushed past 0 or 1 keeps
 * that excess, so a later step that would move it back inwards is cancelled first (measured on
 * Fashion-MNIST: norms +0.4 % median, up to +1.4 %). The loop stops for an example as
 * soon as its argmax leaves ŷ (the example then leaves the batch) or after `steps` steps.
 * For an affine classifier one step lands at (1 + η)(1 + 10⁻⁴/|f|) times the exact distance.
 *
 * Cost per step: (candidates − 1) forward+backward passes plus one forward pass over the active examples.
 * Defaults: steps 50 (typically 2–4 are used), overshoot 0.02, candidates = all classes.
 */
import { DEEPFOOL_DEFAULTS } from '@arcal/contracts';
import { tf } from '../backend/index.ts';
import { ActiveSet, abortPoint, column, margin, oneHot, rowNorms, whereRows, writeRows } from './common.ts';
import type { BatchAttack } from './types.ts';

export { DEEPFOOL_DEFAULTS };

export const deepFoolL2: BatchAttack = async (f, x, predicted, numClasses, params) => {
  const steps = params.steps ?? DEEPFOOL_DEFAULTS.steps;
  const overshoot = params.overshoot ?? DEEPFOOL_DEFAULTS.overshoot;
  const clipTotal = params.clipTotal ?? DEEPFOOL_DEFAULTS.clipTotal;
  const nCand = Math.min(numClasses, params.candidates ?? numClasses);
  const n = x.shape[0];
  const d = x.size / n;
  const rank = x.rank;
  const store = new Float32Array(n * d);
  const found = new Uint8Array(n);

  // Candidate classes: the nCand − 1 largest clean logits other than ŷ, fixed for the whole run.
  const z0 = tf.tidy(() => f(x));
  const z0v = (await z0.data()) as Float32Array;
  z0.dispose();
  const others = nCand - 1;
  const cand = new Int32Array(n * others);
  for (let i = 0; i < n; i++) {
    const order = Array.from({ length: numClasses }, (_, k) => k)
      .filter((k) => k !== predicted[i])
      .sort((a, b) => z0v[i * numClasses + b] - z0v[i * numClasses + a] || a - b);
    for (let j = 0; j < others; j++) cand[i * others + j] = order[j];
  }

  const set = new ActiveSet(n);
  set.set('x0', x.clone());
  set.set('xi', x.clone());
  set.set('r', tf.zerosLike(x));
  set.set('ymask', oneHot(predicted, numClasses));
  set.set('cand', tf.tensor2d(cand, [n, others], 'int32'));
  const logitsGrad = tf.grad((xx: tf.Tensor) => f(xx));
  let iterations = 0;
  let exampleIterations = 0;
  try {
    for (let it = 0; set.size > 0; it++) {
      await abortPoint(params.signal);
      const m = tf.tidy(() => margin(f(set.get('xi')), set.get('ymask')));
      const mv = (await m.data()) as Float32Array;
      m.dispose();
      const keep = new Uint8Array(set.size);
      const adv: number[] = [];
      for (let i = 0; i < set.size; i++) {
        if (mv[i] < 0) adv.push(i);
        else keep[i] = 1;
      }
      if (adv.length > 0) {
        const local = Int32Array.from(adv);
        await writeRows(
          store,
          d,
          set.get('xi'),
          local,
          Int32Array.from(local, (i) => set.rows[i]),
        );
        for (const i of adv) found[set.rows[i]] = 1;
      }
      set.compact(keep);
      if (set.size === 0 || it >= steps) break;

      // One linearisation step for the examples still on the clean side.
      const ratio = tf.tidy(() => {
        const xi = set.get('xi');
        const ymask = set.get('ymask');
        const z = f(xi);
        let bestRatio: tf.Tensor = tf.fill([set.size], Number.POSITIVE_INFINITY);
        let bestW: tf.Tensor = tf.zerosLike(xi);
        let bestScale: tf.Tensor = tf.zeros([set.size]);
        for (let j = 0; j < others; j++) {
          const kmask = tf.oneHot(tf.squeeze(tf.slice(set.get('cand'), [0, j], [-1, 1]), [1]), numClasses).toFloat();
          const dy = tf.sub(kmask, ymask);
          const fk = tf.abs(tf.sum(tf.mul(z, dy), 1));
          const wk = logitsGrad(xi, dy);
          const wn = rowNorms(wk);
          const r = tf.where(tf.greater(wn, 0), tf.div(fk, wn), tf.fill([set.size], Number.POSITIVE_INFINITY));
          const better = tf.less(r, bestRatio);
          bestRatio = tf.where(better, r, bestRatio);
          bestW = whereRows(better as tf.Tensor1D, wk, bestW);
          // (|f| + 1e-4) / ‖w‖² for this class
          bestScale = tf.where(better, tf.div(tf.add(fk, 1e-4), tf.square(wn)), bestScale);
        }
        const step = tf.mul(bestW, column(bestScale as tf.Tensor1D, rank));
        const x0 = set.get('x0');
        const sum = tf.add(set.get('r'), step);
        const rTot = clipTotal ? tf.sub(tf.clipByValue(tf.add(x0, sum), 0, 1), x0) : sum;
        set.set('r', rTot);
        set.set('xi', tf.clipByValue(tf.add(x0, tf.mul(rTot, 1 + overshoot)), 0, 1));
        return bestRatio;
      });
      const rv = (await ratio.data()) as Float32Array;
      ratio.dispose();
      iterations++;
      exampleIterations += set.size;
      // An example with no usable gradient for any candidate cannot move: it leaves as not fooled.
      const movable = Uint8Array.from(rv, (v) => (Number.isFinite(v) ? 1 : 0));
      set.compact(movable);
    }
  } finally {
    set.dispose();
  }
  return { adversarial: store, found, iterations, exampleIterations };
};
