/**
 * Loads the compiled oneDNN addon (`build/Release/arcal_native.node`, built by `npm run build:native`).
 * Loading never throws: a missing or broken build is reported as a reason a user can act on.
 * Imports nothing from tfjs; the backend lives in backend.ts.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The addon's functions. All arrays are caller-owned; every kernel writes every element of its output. */
export interface NativeAddon {
  setThreads(n: number): number;
  getThreads(): number;
  version(): string;
  /** y = act(conv(x, w) + bias); geometry [N,H,W,C,KH,KW,O,OH,OW,sh,sw,pt,pb,pl,pr]. False: oneDNN declined. */
  conv2d(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    geom: Int32Array,
    relu: boolean,
  ): boolean;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geom: Int32Array): boolean;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geom: Int32Array): boolean;
  /** oneDNN's implementation name for a geometry: 'f' forward, 'd' input gradient, 'w' filter gradient. */
  convImpl(geom: Int32Array, kind: 'f' | 'd' | 'w'): string;
  /** Pool geometry [N,H,W,C,OH,OW,KH,KW,sh,sw,pt,pl]. */
  /** With `argmax` (Uint8Array of y's size; windows under 255 pixels) also records each max's window index. */
  maxPool(x: Float32Array, y: Float32Array, geom: Int32Array, argmax?: Uint8Array | null): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geom: Int32Array): void;
  maxPoolGradArgmax(dy: Float32Array, argmax: Uint8Array, dx: Float32Array, geom: Int32Array): void;
  avgPool(x: Float32Array, y: Float32Array, geom: Int32Array): void;
  avgPoolGrad(dy: Float32Array, dx: Float32Array, geom: Int32Array): void;
  /** out[b] = act(op(A[b])·op(B[b]) + bias); geometry [batchA, batchB, M, N, K, transA, transB]. */
  matmul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    geom: Int32Array,
    bias: Float32Array | null,
    relu: boolean,
  ): void;
  /** out[i] = a[i mod |a|] op b[i mod |b|]; op 0 add, 1 sub, 2 mul, 3 div. */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /**
   * out = a op b where one operand has out's size, as [outer, mid, inner], and the other is [outer, 1, inner]
   * broadcast along the middle block.
   */
  binaryMid(
    op: number,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    outer: number,
    mid: number,
    inner: number,
  ): void;
  /** op 0 relu, 1 step(alpha), 2 exp, 3 log, 4 neg, 5 sqrt, 6 square. */
  unary(op: number, x: Float32Array, out: Float32Array, alpha?: number): void;
  /** out[i] = x[i] > hi ? hi : x[i] < lo ? lo : x[i], compared in double (tfjs's ClipByValue; NaN passes). */
  clip(x: Float32Array, out: Float32Array, lo: number, hi: number): void;
  sumInner(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  sumOuter(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /**
   * Backward of relu(z + bias) over rows of |db| channels: out = dy · step(y) and db = column sums of out;
   * with y null (no relu) only db = column sums of dy, and out is not touched.
   */
  biasReluGrad(dy: Float32Array, y: Float32Array | null, out: Float32Array | null, db: Float32Array): void;
  /** out[o·inner + i] = Σ_m x[(o·mid + m)·inner + i] (a sum over a middle block of axes), in double. */
  sumMiddle(x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number): void;
  /**
   * Batch normalisation over the rows of a channels-last tensor (C channels per row); see batchnorm.ts.
   * bnTrain: batch mean and biased variance per channel (as tf.moments), then
   * y = act((x − mean[c]) · gamma[c]/√(variance[c] + epsilon) + beta[c]), act relu or identity; C = |gamma|.
   */
  bnTrain(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    epsilon: number,
    relu: boolean,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
  ): void;
  /**
   * The gradient of bnTrain from its input x and its outputs mean and variance: g = dy · step(y) with relu (y
   * recomputed from x as bnTrain computed it), dy without; dbeta = Σ g, dgamma = Σ g·x̂,
   * dx = gamma/σ · (g − dbeta/M − x̂ · dgamma/M), over the M rows.
   */
  bnTrainGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    epsilon: number,
    relu: boolean,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
  ): void;
  /** y = act((x − mean[c]) · scale[c] + offset[c]), act relu or identity. */
  bnApply(
    x: Float32Array,
    mean: Float32Array,
    scale: Float32Array,
    offset: Float32Array,
    y: Float32Array,
    relu: boolean,
  ): void;
  /** g = dy · step(y) (dy when y is null): sumG[c] = Σ g, sumGXhat[c] = Σ g · (x − mean[c]) · invstd[c]. */
  bnGradSums(
    dy: Float32Array,
    x: Float32Array,
    y: Float32Array | null,
    mean: Float32Array,
    invstd: Float32Array,
    sumG: Float32Array,
    sumGXhat: Float32Array,
  ): void;
  /** dx = a[c] · g + b[c] · (x − mean[c]) + e[c], g as in bnGradSums; with x null only dx = a[c] · g. */
  bnGradApply(
    dy: Float32Array,
    y: Float32Array | null,
    a: Float32Array,
    x: Float32Array | null,
    mean: Float32Array | null,
    b: Float32Array | null,
    e: Float32Array | null,
    dx: Float32Array,
  ): void;
  /**
   * One parameter's optimizer update (kind 0 sgd, 1 momentum, 2 adam) into fresh outputs; state arrays are null
   * where the kind has none; k = [lr, wd, a, b, c, d, c1, c2, eps]. See optimizer.ts.
   */
  optimizerUpdate(
    kind: number,
    p: Float32Array,
    g: Float32Array,
    s1: Float32Array | null,
    s2: Float32Array | null,
    pOut: Float32Array,
    s1Out: Float32Array | null,
    s2Out: Float32Array | null,
    k: Float32Array,
  ): void;
  /** loss[i] = −Σ_k t[i,k] · log softmax(z[i])_k over [rows, cols] arrays (see softmax-xent.ts). */
  softmaxXent(z: Float32Array, t: Float32Array, loss: Float32Array, rows: number, cols: number): void;
  /** dz[i,k] = (softmax(z[i])_k · Σ_j t[i,j] − t[i,k]) · dy[i]. */
  softmaxXentGrad(
    z: Float32Array,
    t: Float32Array,
    dy: Float32Array,
    dz: Float32Array,
    rows: number,
    cols: number,
  ): void;
  /** out[i] = (x[i] ≤ lo and g[i] > 0) or (x[i] ≥ hi and g[i] < 0) ? 0 : g[i] (see box-grad.ts). */
  boxFeasibleGradient(x: Float32Array, g: Float32Array, out: Float32Array, lo: number, hi: number): void;
}

export interface AddonLoad {
  addon: NativeAddon | undefined;
  reason: string;
}

let loaded: AddonLoad | undefined;

/** The addon, loaded once per process (per worker thread), or the reason it is unavailable. */
export function loadAddon(): AddonLoad {
  if (loaded) return loaded;
  const path = new URL('../build/Release/arcal_native.node', import.meta.url).pathname;
  if (!existsSync(path)) {
    loaded = {
      addon: undefined,
      reason: 'native kernels are not built (install libdnnl-dev, then run `npm run build:native`)',
    };
    return loaded;
  }
  // OpenMP threads that finish a parallel region spin-wait for the next one by default. On a machine whose
  // cores are shared (other workers, other jobs) a spinning thread takes the core from the thread that has
  // work, and every small region then costs a scheduler time slice: measured 4–5× slower training under
  // load. Passive waiting (sleep at once) is the default here unless the user chose a policy. libgomp reads
  // the variable when it is loaded, i.e. with the addon just below.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined)
    process.env.OMP_WAIT_POLICY = 'passive';
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    loaded = { addon, reason: `native kernels on ${addon.version()}` };
  } catch (e) {
    const first = (e as Error).message.split('\n')[0];
    loaded = {
      addon: undefined,
      reason: `native kernels are built but do not load (${first}); is libdnnl2 installed?`,
    };
  }
  return loaded;
}
