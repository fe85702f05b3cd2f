/**
 * Training of one ensemble member with per-example soft targets, per-epoch validation and the adaptive
 * soft-label update of AdaLS / AR-AdaLS (Algorithm 1). Checkpoints after every epoch; resuming from a
 * checkpoint gives the same weights as an uninterrupted run, because the only randomness (shuffles, mixup
 * draws) is derived from (seed, epoch).
 */
import type { EpochRecord, ResolvedSpec } from '@arcal/contracts';
import { ArcalError } from '@arcal/contracts';
import { softmaxCrossEntropyRows } from '@arcal/native';
import { tf } from '../backend/index.ts';
import { classificationSummary } from '../calibration/metrics.ts';
import {
  epsilonFromPTrue,
  pTrueFromEpsilon,
  softLabelTargets,
  subsetStats,
  updateSoftLabels,
} from '../calibration/soft-labels.ts';
import type { ExperimentData, Split } from '../data/types.ts';
import { createModel, type Model, predictProbabilities } from '../models/index.ts';
import { Rng } from '../util/rng.ts';
import { ccatBatch, ccatParamsOf } from './ccat.ts';
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { learningRateAt, Optimizer } from './optimizer.ts';
import type { Ranking } from './ranking.ts';

/** How the targets of a training example are formed. */
export type TargetKind = 'one-hot' | 'smoothed' | 'adaptive' | 'mixup';

export function targetKindOf(method: ResolvedSpec['method']['kind']): TargetKind {
  switch (method) {
    case 'label-smoothing':
      return 'smoothed';
    case 'adals':
    case 'ar-adals':
      return 'adaptive';
    case 'mixup':
      return 'mixup';
    default:
      return 'one-hot';
  }
}

export type { Ranking } from './ranking.ts';

export interface TrainMemberOptions {
  spec: ResolvedSpec;
  data: ExperimentData;
  member: number;
  /** Seed of this member's initialisation and shuffles. */
  seed: number;
  /** Train as this method instead of spec.method.kind (the vanilla reference model of precompute). */
  methodKind?: ResolvedSpec['method']['kind'];
  /** Resume from and write checkpoints to this directory. */
  checkpointDir?: string;
  /** Stop once this many epochs are done in total (joint ensembles train one epoch at a time). */
  untilEpoch?: number;
  /** Robustness subsets (adaptive methods). Defaults to one subset (AdaLS). */
  ranking?: Ranking;
  /** Re-rank before the given epoch (on-the-fly robustness); called with the current model. */
  reRank?: (model: Model, epoch: number) => Promise<Ranking | undefined>;
  /**
   * Joint mode: the shared correct-class soft-label table to train the next epoch with; the member then does
   * not update it itself (the ensemble does).
   */
  sharedPTrue?: number[];
  onEpoch?: (record: EpochRecord) => void;
  onBatch?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface MemberState {
  model: Model;
  /** Epochs completed. */
  epoch: number;
  epochs: EpochRecord[];
  /** Current correct-class soft label per subset (adaptive methods; [1] otherwise). */
  pTrue: number[];
  /** Validation probabilities after the last completed epoch (flat N·Z). */
  valProbs: Float32Array;
  ranking?: Ranking;
  dispose(): void;
}

/**
 * One optimisation step on a batch with soft targets: loss = mean_i −Σ_k t_ik·log softmax(z_i)_k, gradients of
 * every trainable variable, the optimizer update, then batch-norm moving statistics. Returns the batch's mean
 * loss and its number of correct top-1 predictions.
 */
export function trainStep(
  model: Model,
  opt: Optimizer,
  x: tf.Tensor4D,
  targets: tf.Tensor2D,
  labels: tf.Tensor1D,
  lr: number,
): { loss: number; correct: number } {
  const updates: Array<[tf.Variable, tf.Tensor]> = [];
  let correct = 0;
  const { value, grads } = tf.variableGrads(() => {
    const z = model.apply(x, true, updates);
    correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), labels), 'float32')).dataSync()[0]);
    // One native kernel (and one for its gradient) on the `native` backend; the same tf ops as before elsewhere.
    return tf.mean(softmaxCrossEntropyRows(z, targets)) as tf.Scalar;
  }, model.trainable);
  opt.apply(
    model.trainable.map((v) => grads[v.name]),
    lr,
  );
  for (const [v, t] of updates) {
    v.assign(t);
    t.dispose();
  }
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, correct };
}

function gatherBatch(split: Split, idx: ArrayLike<number>, per: number): Float32Array {
  const out = new Float32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) out.set(split.x.subarray(idx[i] * per, (idx[i] + 1) * per), i * per);
  return out;
}

/** Per-epoch seed for shuffles and mixup: a pure function of (member seed, epoch). */
const epochSeed = (seed: number, epoch: number) => (seed * 2654435761 + epoch * 40503 + 1) >>> 0;

/**
 * Trains (or resumes) one member up to `untilEpoch` (default: spec.training.epochs) and returns its state.
 * The caller owns the returned model and must `dispose()` the state.
 */
export async function trainMember(o: TrainMemberOptions): Promise<MemberState> {
  const { spec, data } = o;
  const kind = o.methodKind ?? spec.method.kind;
  const targetKind = targetKindOf(kind);
  const Z = data.classes;
  const [h, w, c] = data.shape;
  const per = h * w * c;
  const totalEpochs = spec.training.epochs;
  const until = Math.min(o.untilEpoch ?? totalEpochs, totalEpochs);
  const bs = spec.training.batchSize;
  const nTrain = data.train.n;
  if (nTrain === 0) throw new ArcalError('INVALID_INPUT', 'the training split is empty');
  const stepsPerEpoch = Math.ceil(nTrain / bs);
  const R = kind === 'ar-adals' ? spec.method.subsets : 1;

  const model = createModel(
    {
      arch: spec.model.arch,
      inputShape: data.shape,
      classes: Z,
      depth: spec.model.depth,
      width: spec.model.width,
      hidden: spec.model.hidden,
    },
    o.seed,
  );
  const opt = new Optimizer(
    { kind: spec.training.optimizer, momentum: spec.training.momentum, weightDecay: spec.training.weightDecay },
    model.trainable,
  );

  let pTrue: number[] =
    targetKind === 'smoothed'
      ? [pTrueFromEpsilon(spec.method.epsilon, Z)]
      : targetKind === 'adaptive'
        ? new Array(R).fill(1)
        : [1];
  let epoch = 0;
  let epochs: EpochRecord[] = [];
  let ranking = o.ranking;
  let best: { nll: number; weights: Float32Array[] } | undefined;

  if (o.checkpointDir) {
    const ck = await loadCheckpoint(o.checkpointDir, model, opt);
    if (ck) {
      epoch = ck.epoch;
      epochs = ck.epochs;
      pTrue = ck.pTrue;
      best = ck.best;
      if (ck.ranking && !o.ranking) ranking = ck.ranking;
    }
  }
  if (targetKind === 'adaptive' && !ranking && !(o.reRank && R > 1)) {
    if (R > 1)
      throw new ArcalError('INVALID_INPUT', 'ar-adals needs robustness subsets for training and validation examples');
    ranking = { trainSubsetOf: new Int32Array(nTrain), valSubsetOf: new Int32Array(data.validation.n) };
  }

  let valProbs = data.validation.n
    ? predictProbabilities(model, data.validation.x, data.validation.n)
    : new Float32Array(0);

  while (epoch < until) {
    if (o.signal?.aborted) throw abortError();
    const t0 = performance.now();
    if (o.reRank && targetKind === 'adaptive') {
      const r = await o.reRank(model, epoch);
      if (r) ranking = r;
    }
    const table = o.sharedPTrue ?? pTrue;
    const rng = new Rng(epochSeed(o.seed, epoch));
    const order = rng.permutation(nTrain);
    let lossSum = 0;
    let correct = 0;
    let lr = spec.training.learningRate;
    for (let s = 0; s < stepsPerEpoch; s++) {
      if (o.signal?.aborted) throw abortError();
      const idx = order.subarray(s * bs, Math.min(nTrain, (s + 1) * bs));
      const b = idx.length;
      const xb = gatherBatch(data.train, idx, per);
      const labels = new Int32Array(b);
      for (let i = 0; i < b; i++) labels[i] = data.train.y[idx[i]];
      const subsets = targetKind === 'adaptive' ? Int32Array.from(idx, (i) => ranking!.trainSubsetOf[i]) : null;
      const targets = softLabelTargets(labels, subsets, table, Z);
      if (targetKind === 'mixup') mixBatch(xb, targets, b, per, Z, spec.method.mixupAlpha, rng);
      // CCAT: the second half of the batch becomes adversarial (its accuracy counts in trainAccuracy)
      if (kind === 'ccat') ccatBatch(model, xb, targets, labels, data.shape, Z, ccatParamsOf(spec), rng);
      lr = learningRateAt(
        spec.training.learningRate,
        spec.training.schedule,
        epoch * stepsPerEpoch + s,
        totalEpochs * stepsPerEpoch,
      );
      const xt = tf.tensor4d(xb, [b, h, w, c]);
      const tt = tf.tensor2d(targets, [b, Z]);
      const lt = tf.tensor1d(labels, 'int32');
      const r = trainStep(model, opt, xt, tt, lt, lr);
      tf.dispose([xt, tt, lt]);
      lossSum += r.loss * b;
      correct += r.correct;
      o.onBatch?.(s + 1, stepsPerEpoch);
      // yield to the event loop so signals, progress output and lock renewals get a turn
      if ((s & 7) === 7) await new Promise((r) => setImmediate(r));
    }
    epoch++;
    const record: EpochRecord = {
      epoch,
      member: o.member,
      trainLoss: lossSum / nTrain,
      trainAccuracy: correct / nTrain,
      learningRate: lr,
      seconds: 0,
    };
    if (data.validation.n) {
      valProbs = predictProbabilities(model, data.validation.x, data.validation.n);
      const { brier: _b, ...v } = classificationSummary(valProbs, data.validation.y, spec.evaluation.bins);
      record.validation = { ...v, brier: _b };
      if (targetKind === 'adaptive' && ranking) {
        const stats = subsetStats(valProbs, data.validation.y, ranking.valSubsetOf, R);
        if (!o.sharedPTrue) {
          const upd = updateSoftLabels(pTrue, stats, { alpha: spec.method.alpha, numClasses: Z });
          pTrue = upd.pTrue;
        }
        record.softLabels = {
          pTrue: [...(o.sharedPTrue ?? pTrue)],
          epsilon: (o.sharedPTrue ?? pTrue).map((p) => epsilonFromPTrue(p, Z)),
          valConf: stats.map((s) => s.conf),
          valAcc: stats.map((s) => s.acc),
        };
      }
      if (data.selection?.n) {
        // never a gradient or Eq. 3: only its metrics, and best-val's choice of epoch (a tuned setting too)
        const selProbs = predictProbabilities(model, data.selection.x, data.selection.n);
        record.selection = classificationSummary(selProbs, data.selection.y, spec.evaluation.bins);
      }
      const heldOutNll = record.selection?.nll ?? record.validation.nll;
      if (spec.training.checkpoint === 'best-val' && (!best || heldOutNll < best.nll)) {
        best = {
          nll: heldOutNll,
          weights: [...model.trainable, ...model.state].map((v) => new Float32Array(v.dataSync() as Float32Array)),
        };
      }
    }
    record.seconds = (performance.now() - t0) / 1000;
    epochs.push(record);
    if (o.checkpointDir) {
      const state: CheckpointState = { epoch, epochs, pTrue, best, ranking };
      await saveCheckpoint(o.checkpointDir, model, opt, state);
    }
    o.onEpoch?.(record);
  }

  if (spec.training.checkpoint === 'best-val' && best && epoch >= totalEpochs) {
    const vars = [...model.trainable, ...model.state];
    best.weights.forEach((wv, i) => {
      const t = tf.tensor(wv, vars[i].shape);
      vars[i].assign(t);
      t.dispose();
    });
    if (data.validation.n) valProbs = predictProbabilities(model, data.validation.x, data.validation.n);
  }
  opt.dispose();
  return {
    model,
    epoch,
    epochs,
    pTrue,
    valProbs,
    ranking,
    dispose: () => model.dispose(),
  };
}

/**
 * mixup (Zhang et al. 2018): λ ~ Beta(a, a) per batch, x ← λ·x + (1−λ)·x[π], t ← λ·t + (1−λ)·t[π] with π a
 * random permutation of the batch; targets keep summing to 1.
 */
export function mixBatch(
  x: Float32Array,
  t: Float32Array,
  b: number,
  per: number,
  Z: number,
  a: number,
  rng: Rng,
): number {
  const lam = rng.beta(a, a);
  const perm = rng.permutation(b);
  const x0 = x.slice();
  const t0 = t.slice();
  for (let i = 0; i < b; i++) {
    const j = perm[i];
    for (let k = 0; k < per; k++) x[i * per + k] = lam * x0[i * per + k] + (1 - lam) * x0[j * per + k];
    for (let k = 0; k < Z; k++) t[i * Z + k] = lam * t0[i * Z + k] + (1 - lam) * t0[j * Z + k];
  }
  return lam;
}

function abortError(): Error {
  const e = new Error('training interrupted; the last completed epoch is checkpointed');
  e.name = 'AbortError';
  return e;
}
