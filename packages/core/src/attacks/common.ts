/**
 * Building blocks the L2 attacks share: the model adapter, the margin, per-row norms, cosine annealing and
 * the shrinking set of still-running examples. Tensor code only; imports nothing beyond tfjs and contracts.
 */
import { ArcalError } from '@arcal/contracts';
import { tf } from '../backend/index.ts';
import type { AttackModel, LogitsFunction } from './types.ts';

/** Floor under probabilities before the logarithm (log 1e-30 ≈ −69, far below any real logit gap). */
const PROB_FLOOR = 1e-30;

/**
 * Turns either model form into x ↦ logits. For `outputs: 'probabilities'` the logits are log max(p, 1e-30):
 * softmax(log p) = p for rows summing to 1, so the argmax, the cross-entropy and the margins are those of p.
 */
export function toLogitsFunction(model: AttackModel, outputs: 'logits' | 'probabilities' = 'logits'): LogitsFunction {
  let base: LogitsFunction;
  if (typeof model === 'function') base = model as LogitsFunction;
  else if (model && typeof (model as { apply?: unknown }).apply === 'function') {
    base = (x) => {
      const out = (model as { apply(x: tf.Tensor, training?: boolean): unknown }).apply(x, false);
      if (!(out instanceof tf.Tensor)) {
        throw new ArcalError('INVALID_INPUT', 'model.apply(x, false) must return a single logits tensor [N, K]');
      }
      return out;
    };
  } else {
    throw new ArcalError('INVALID_INPUT', 'model must be a function x => logits or an object with apply(x, training)');
  }
  if (outputs === 'logits') return base;
  return (x) => tf.tidy(() => tf.log(tf.maximum(base(x), PROB_FLOOR)));
}

/**
 * A model averaging the members' softmax probabilities, returned as log p̄(x) = log (1/M) Σₘ softmax(zₘ(x)),
 * so an ensemble can be attacked like a single logits model (softmax(log p̄) = p̄).
 */
export function averagedProbabilityModel(members: AttackModel[]): LogitsFunction {
  if (members.length === 0) throw new ArcalError('INVALID_INPUT', 'an ensemble needs at least one member');
  const fns = members.map((m) => toLogitsFunction(m));
  return (x) =>
    tf.tidy(() => {
      const probs = fns.map((f) => tf.softmax(f(x)));
      const mean = tf.div(tf.addN(probs), fns.length);
      return tf.log(tf.maximum(mean, PROB_FLOOR));
    });
}

/** One-hot rows [n, K] of the predicted classes. */
export const oneHot = (labels: Int32Array, k: number): tf.Tensor2D =>
  tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), k).toFloat() as tf.Tensor2D);

/**
 * The margin m(z) = z_ŷ − max_{j≠ŷ} z_j per row (Carlini & Wagner's f₆ with κ = 0, FMN's loss); m < 0 exactly
 * when the argmax has left ŷ.
 */
export function margin(z: tf.Tensor, mask: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const zy = tf.sum(tf.mul(z, mask), 1);
    const others = tf.where(tf.cast(mask, 'bool'), tf.fill(z.shape, Number.NEGATIVE_INFINITY), z);
    return tf.sub(zy, tf.max(others, 1)) as tf.Tensor1D;
  });
}

/** Longest an attack holds the event loop without a signal before it yields (ms). */
const YIELD_EVERY_MS = 100;
let lastYield = performance.now();

/**
 * Where an attack may stop: yields to the event loop (tensor reads on the CPU backends resolve without
 * yielding, so a long attack would otherwise starve timers, signal handlers and a test runner's messages) and
 * throws an AbortError once `signal` is aborted. With a signal it yields at every point; without one, once
 * every 100 ms, so the cost stays negligible. Yielding never changes results.
 */
export async function abortPoint(signal: AbortSignal | undefined): Promise<void> {
  if (!signal && performance.now() - lastYield < YIELD_EVERY_MS) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastYield = performance.now();
  if (signal?.aborted) {
    const e = new Error('robustness attack interrupted');
    e.name = 'AbortError';
    throw e;
  }
}

/** ‖tᵢ‖₂ of every row of a batch tensor [n, ...] → [n]. */
export function rowNorms(t: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const axes = t.shape.slice(1).map((_, i) => i + 1);
    return tf.sqrt(tf.sum(tf.square(t), axes)) as tf.Tensor1D;
  });
}

/** A per-example column [n, 1, …, 1] of the given rank, for broadcasting against images. */
export function column(values: Float32Array | tf.Tensor1D, rank: number): tf.Tensor {
  return tf.tidy(() => {
    const v = values instanceof tf.Tensor ? values : tf.tensor1d(values, 'float32');
    return tf.reshape(v, [v.shape[0], ...new Array(rank - 1).fill(1)]);
  });
}

/**
 * Row-wise select: row i of a where cond[i], else row i of b (cond is [n], a and b finite [n, ...]). Written
 * as a·m + b·(1 − m) with a per-row column m, which every backend runs as a fast broadcast, where a
 * broadcasting `where` is many times slower on wasm.
 */
export function whereRows(cond: tf.Tensor1D | Uint8Array, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = cond instanceof tf.Tensor ? tf.cast(cond, 'float32') : tf.tensor1d(Float32Array.from(cond));
    const m = column(c as tf.Tensor1D, a.rank);
    return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m)));
  });
}

/** Rows scaled to unit L2 norm; rows of norm 0 stay 0 (a flat model gives no direction, not NaN). */
export function normaliseRows(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const n = rowNorms(t);
    const safe = tf.where(tf.greater(n, 0), n, tf.onesLike(n));
    return tf.div(t, column(safe as tf.Tensor1D, t.rank));
  });
}

/** Cosine annealing from v0 (k = 0) to v1 (k = K): v1 + (v0 − v1)(1 + cos(πk/K))/2. */
export const cosineAnneal = (v0: number, v1: number, k: number, total: number): number =>
  v1 + ((v0 - v1) * (1 + Math.cos((Math.PI * k) / Math.max(1, total)))) / 2;

/** The gradient of Σᵢ lossᵢ(x) with respect to x, plus the per-example loss vector itself. */
export function lossAndGrad(
  lossPerExample: (x: tf.Tensor) => tf.Tensor1D,
  x: tf.Tensor,
): { loss: tf.Tensor1D; grad: tf.Tensor } {
  let loss: tf.Tensor1D | undefined;
  const grad = tf.grad((xi: tf.Tensor) => {
    const l = lossPerExample(xi);
    loss = tf.keep(l);
    return tf.sum(l);
  })(x);
  return { loss: loss as tf.Tensor1D, grad };
}

/**
 * The examples of a batch that are still being attacked, with their per-example state tensors. When some
 * leave, every state tensor is gathered down to the remaining rows, so later steps cost only what is left.
 */
export class ActiveSet {
  /** Batch positions of the active rows, in state order. */
  rows: Int32Array;
  private state = new Map<string, tf.Tensor>();
  constructor(n: number) {
    this.rows = Int32Array.from({ length: n }, (_, i) => i);
  }
  get size(): number {
    return this.rows.length;
  }
  get(name: string): tf.Tensor {
    const t = this.state.get(name);
    if (!t) throw new Error(`no state ${name}`);
    return t;
  }
  /** Stores a state tensor (kept out of any tidy), disposing the one it replaces. */
  set(name: string, t: tf.Tensor): void {
    const old = this.state.get(name);
    this.state.set(name, tf.keep(t));
    if (old && old !== t) old.dispose();
  }
  /** Keeps only the rows with keep[i] = 1 (i in state order); returns the local indices that left. */
  compact(keep: Uint8Array): Int32Array {
    const kept: number[] = [];
    const left: number[] = [];
    for (let i = 0; i < keep.length; i++) (keep[i] ? kept : left).push(i);
    if (left.length === 0) return new Int32Array(0);
    const idx = tf.tensor1d(kept, 'int32');
    for (const [name, t] of this.state) {
      const g = tf.gather(t, idx);
      t.dispose();
      this.state.set(name, tf.keep(g));
    }
    idx.dispose();
    this.rows = Int32Array.from(kept, (i) => this.rows[i]);
    return Int32Array.from(left);
  }
  dispose(): void {
    for (const t of this.state.values()) t.dispose();
    this.state.clear();
  }
}

/** Copies rows `local` of the tensor t [n, ...] into the flat store at batch rows `global` (D values a row). */
export async function writeRows(
  store: Float32Array,
  d: number,
  t: tf.Tensor,
  local: Int32Array,
  global: Int32Array,
): Promise<void> {
  if (local.length === 0) return;
  const g = tf.tidy(() => tf.gather(t, tf.tensor1d(local, 'int32')));
  const v = (await g.data()) as Float32Array;
  g.dispose();
  for (let r = 0; r < local.length; r++) store.set(v.subarray(r * d, (r + 1) * d), global[r] * d);
}

/**
 * The state of a minimal-norm search over a batch (FMN, DDN): an active set holding x0, the perturbation δ = 0,
 * the one-hot mask of the predicted class and the best adversarial so far; `found`/`bestNorm` per example; and
 * `flush(local)`, which writes the best rows of found examples among the local rows `local` to `store` (n × d),
 * to be called before rows leave the set and once at the end for the rest.
 */
export function boundarySearch(x: tf.Tensor, predicted: Int32Array, numClasses: number) {
  const n = x.shape[0];
  const d = x.size / n;
  const store = new Float32Array(n * d);
  const found = new Uint8Array(n);
  const bestNorm = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
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
  return { n, d, store, found, bestNorm, set, flush };
}
