/**
 * Batch normalisation (+ relu) over N, H, W of a channels-last tensor as single kernels with their own
 * backward, for the residual nets.
 *
 * The composite formulation (tf.moments, tf.batchNorm, tf.relu) costs, per layer and training step, a Mean
 * over non-inner axes twice (tfjs's JS kernel transposes first), a squared difference, the FusedBatchNorm
 * kernel, and in the backward a Tile of 1/σ to full size plus about ten full-size broadcast passes and
 * reductions — most of them in JavaScript. Here the training forward is one native call (per-channel
 * statistics, then normalise + scale/shift + relu, the coefficients computed natively) and its backward one more
 * (the per-channel sums Σg and Σg·x̂, then dx in closed form), with g = dy·step(y) for the fused relu. The
 * training backward reads dy and x only: y's sign is recomputed from x bit for bit, so y is not kept either.
 *
 *   training:  dx = γ/σ · (g − Σg/M − x̂ · Σ(g·x̂)/M),  dγ = Σ g·x̂,  dβ = Σ g   (M = N·H·W, σ = √(var + ε))
 *   inference: dx = γ/σ · g  (and dγ, dβ, dmean, dvariance when asked for)
 *
 * `batchNormTrainAct` returns the batch mean and (biased) variance for the caller's moving averages; they
 * are statistics, not differentiable outputs (their gradient is taken as zero). Kernels are registered on
 * the `native` backend only; each has a JavaScript fallback with the same arithmetic for inputs the addon
 * does not take (non-float32 storage).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.ts';
import { jsArrays, type KernelArrays, type NativeBackend, nativeArrays } from './backend.ts';
import { withFallback } from './kernels.ts';

export const BATCH_NORM_TRAIN = 'ArcalBatchNormTrain';
export const BATCH_NORM_INFER = 'ArcalBatchNormInfer';
export const BATCH_NORM_GRAD = 'ArcalBatchNormGrad';

/** The addon's batch-norm passes (also implemented in JavaScript below, for the fallback). */
export type BnOps = Pick<NativeAddon, 'bnTrain' | 'bnTrainGrad' | 'bnApply' | 'bnGradSums' | 'bnGradApply'>;

/** Per-channel mean and biased variance over the rows (double sums around the first row), in JavaScript. */
function statsJs(x: Float32Array, mean: Float32Array, variance: Float32Array): void {
  const C = mean.length;
  const rows = x.length / C;
  const s1 = new Float64Array(C);
  const s2 = new Float64Array(C);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const d = x[r * C + c] - x[c];
      s1[c] += d;
      s2[c] += d * d;
    }
  for (let c = 0; c < C; c++) {
    const m = s1[c] / rows;
    mean[c] = x[c] + m;
    variance[c] = Math.max(0, s2[c] / rows - m * m);
  }
}

/** 1/√(variance + ε) per channel (computed in double, stored as float32). */
const invStd = (variance: Float32Array, eps: number) => variance.map((v) => 1 / Math.sqrt(v + eps));

/** The JS forward's scale γ/√(variance + ε) per channel; its backward recomputes the forward's y with it. */
function trainScaleJs(gamma: Float32Array, variance: Float32Array, eps: number): Float32Array {
  const inv = invStd(variance, eps);
  return gamma.map((g, c) => g * inv[c]);
}

/** The same passes in JavaScript (double accumulators, same formulas), used when the addon declines. */
export const bnJs: BnOps = {
  bnTrain(x, gamma, beta, epsilon, relu, y, mean, variance) {
    statsJs(x, mean, variance);
    bnJs.bnApply(x, mean, trainScaleJs(gamma, variance, epsilon), beta, y, relu);
  },
  bnTrainGrad(dy, x, gamma, beta, mean, variance, epsilon, relu, dx, dgamma, dbeta) {
    const C = gamma.length;
    const rows = x.length / C;
    // the forward's y, recomputed by the forward's own pass (for the relu mask)
    let y: Float32Array | null = null;
    if (relu) {
      y = new Float32Array(x.length);
      bnJs.bnApply(x, mean, trainScaleJs(gamma, variance, epsilon), beta, y, true);
    }
    const inv = invStd(variance, epsilon);
    const a = gamma.map((g, c) => g * inv[c]);
    bnJs.bnGradSums(dy, x, y, mean, inv, dbeta, dgamma);
    const b = a.map((ac, c) => (-ac * inv[c] * dgamma[c]) / rows);
    const e = a.map((ac, c) => (-ac * dbeta[c]) / rows);
    bnJs.bnGradApply(dy, y, a, x, mean, b, e, dx);
  },
  bnApply(x, mean, scale, offset, y, relu) {
    const C = mean.length;
    for (let i = 0; i < x.length; i++) {
      const c = i % C;
      const v = Math.fround(Math.fround(x[i] - mean[c]) * scale[c]) + offset[c];
      y[i] = relu && v <= 0 ? 0 : v;
    }
  },
  bnGradSums(dy, x, y, mean, invstd, sumG, sumGXhat) {
    const C = mean.length;
    const a1 = new Float64Array(C);
    const a2 = new Float64Array(C);
    for (let i = 0; i < dy.length; i++) {
      const c = i % C;
      const g = y && !(y[i] > 0) ? 0 : dy[i];
      a1[c] += g;
      a2[c] += g * Math.fround((x[i] - mean[c]) * invstd[c]);
    }
    sumG.set(a1);
    sumGXhat.set(a2);
  },
  bnGradApply(dy, y, a, x, mean, b, e, dx) {
    const C = a.length;
    for (let i = 0; i < dy.length; i++) {
      const c = i % C;
      const g = y && !(y[i] > 0) ? 0 : dy[i];
      dx[i] = x && mean && b && e ? a[c] * g + b[c] * (x[i] - mean[c]) + e[c] : a[c] * g;
    }
  },
};

type Inputs = Record<string, tf.TensorInfo>;
/** The kernel's arrays (backend.ts) and its arithmetic: native or the JS fallback's. */
type Io = KernelArrays & { ops: BnOps };

/** The values of per-channel vectors (each of size C), or undefined when one is missing or of another size. */
function channelVectors(io: Io, C: number, ts: tf.TensorInfo[]): Float32Array[] | undefined {
  const out: Float32Array[] = [];
  for (const t of ts) {
    const v = t && io.values(t);
    if (!v || v.length !== C) return undefined;
    out.push(v);
  }
  return out;
}

function trainForward(
  io: Io,
  { x, scale, offset, movingMean, movingVariance }: Inputs,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo[] | undefined {
  const C = x.shape[x.shape.length - 1];
  const xv = io.values(x);
  const vecs = channelVectors(io, C, [scale, offset]);
  const moving = movingMean && movingVariance ? channelVectors(io, C, [movingMean, movingVariance]) : [];
  if (!xv || !vecs || !moving || xv.length === 0) return undefined;
  const [gamma, beta] = vecs;
  const mean = io.alloc(C);
  const variance = io.alloc(C);
  const y = io.alloc(xv.length);
  io.ops.bnTrain(xv, gamma, beta, attrs.epsilon as number, !!attrs.relu, y, mean, variance);
  const outs = [io.output(x.shape, y), io.output([C], mean), io.output([C], variance)];
  if (moving.length === 2) {
    // the moving averages m·μ + (1 − m)·batch, here rather than as four tfjs kernels (and their saved tensors)
    const m = attrs.momentum as number;
    for (const [i, batchStat] of [mean, variance].entries()) {
      const out = io.alloc(C);
      for (let c = 0; c < C; c++) out[c] = moving[i][c] * m + batchStat[c] * (1 - m);
      outs.push(io.output([C], out));
    }
  }
  return outs;
}

function inferForward(
  io: Io,
  { x, mean, variance, scale, offset }: Inputs,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo | undefined {
  const C = x.shape[x.shape.length - 1];
  const xv = io.values(x);
  const vecs = channelVectors(io, C, [mean, variance, scale, offset]);
  if (!xv || !vecs) return undefined;
  const [m, v, gamma, beta] = vecs;
  const inv = invStd(v, attrs.epsilon as number);
  const y = io.alloc(xv.length);
  io.ops.bnApply(
    xv,
    m,
    gamma.map((g, c) => g * inv[c]),
    beta,
    y,
    !!attrs.relu,
  );
  return io.output(x.shape, y);
}

/** Modes of the gradient kernel: outputs [dx, dscale, doffset], [dx], or [dscale, doffset]. */
type GradMode = 'train' | 'inferDx' | 'inferSums';

function backward(io: Io, { dy, x, y, scale, offset, mean, variance }: Inputs, attrs: tf.NamedAttrMap) {
  const mode = attrs.mode as GradMode;
  const C = x.shape[x.shape.length - 1];
  const dyv = io.values(dy);
  const xv = io.values(x);
  const vecs = channelVectors(io, C, mode === 'train' ? [scale, mean, variance, offset] : [scale, mean, variance]);
  if (!dyv || !xv || !vecs || dyv.length !== xv.length) return undefined;
  const [gamma, m, v, beta] = vecs;
  const eps = attrs.epsilon as number;
  if (mode === 'train') {
    // y is not an input: the relu mask is recomputed from x
    const dx = io.alloc(dyv.length);
    const dgamma = io.alloc(C);
    const dbeta = io.alloc(C);
    io.ops.bnTrainGrad(dyv, xv, gamma, beta, m, v, eps, !!attrs.relu, dx, dgamma, dbeta);
    return [io.output(x.shape, dx), io.output([C], dgamma), io.output([C], dbeta)];
  }
  const yv = attrs.relu ? io.values(y) : null;
  if (yv === undefined) return undefined;
  const inv = invStd(v, eps);
  if (mode === 'inferDx') {
    const dx = io.alloc(dyv.length);
    io.ops.bnGradApply(
      dyv,
      yv,
      gamma.map((g, c) => g * inv[c]),
      null,
      null,
      null,
      null,
      dx,
    );
    return [io.output(x.shape, dx)];
  }
  const dgamma = io.alloc(C);
  const dbeta = io.alloc(C);
  io.ops.bnGradSums(dyv, xv, yv, m, inv, dbeta, dgamma);
  return [io.output([C], dgamma), io.output([C], dbeta)];
}

/** Registers the three kernels on `backendName` and the gradients of the two forward ones (once per process). */
export function registerBatchNormLayers(addon: NativeAddon, backendName: string): void {
  if (tf.getKernel(BATCH_NORM_TRAIN, backendName)) return;
  const kernel = (
    name: string,
    run: (io: Io, inputs: Inputs, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[] | undefined,
  ) =>
    tf.registerKernel({
      kernelName: name,
      backendName,
      kernelFunc: withFallback(
        name,
        (b, inputs, attrs) => run({ ops: addon, ...nativeArrays(b) }, inputs, attrs),
        ({ inputs, backend, attrs }) => {
          const out = run({ ops: bnJs, ...jsArrays(backend as NativeBackend) }, inputs as Inputs, attrs ?? {});
          if (!out) throw new Error(`${name}: scale, offset, mean and variance must be vectors of the channel count`);
          return out;
        },
      ),
    });
  kernel(BATCH_NORM_TRAIN, trainForward);
  kernel(BATCH_NORM_INFER, inferForward);
  kernel(BATCH_NORM_GRAD, backward);

  const grad = (inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap, mode: GradMode) =>
    tf.engine().runKernel(BATCH_NORM_GRAD, inputs, { ...attrs, mode }) as unknown as tf.Tensor[];

  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    // y is not kept for the backward (its relu mask is recomputed from x, scale, offset, mean and variance)
    inputsToSave: ['x', 'scale', 'offset'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      // Only y's gradient flows back: the batch statistics feed moving averages, not the loss.
      const dy = (dys as tf.Tensor[])[0];
      const [x, scale, offset, mean, variance] = saved;
      const [dx, dscale, doffset] = grad({ dy, x, scale, offset, mean, variance }, attrs, 'train');
      // the moving statistics' inputs, when given, only feed the updated moving averages
      const none = () => tf.zeros([(scale as tf.Tensor).size]);
      return { x: () => dx, scale: () => dscale, offset: () => doffset, movingMean: none, movingVariance: none };
    },
  });
  tf.registerGradient({
    kernelName: BATCH_NORM_INFER,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale, y] = saved;
      const inputs = { dy: dy as tf.Tensor, x, y, scale, mean, variance };
      // Each closure runs only when its gradient is asked for (an attack asks for dx alone), inside its own
      // tidy, so the sums pass is not shared between closures: dγ and dβ together cost it twice, which only
      // parameter gradients through frozen statistics ever ask for.
      const dscale = () => grad(inputs, attrs, 'inferSums')[0];
      const doffset = () => grad(inputs, attrs, 'inferSums')[1];
      const inv = () => tf.rsqrt(tf.add(variance, attrs.epsilon as number));
      return {
        x: () => grad(inputs, attrs, 'inferDx')[0],
        scale: dscale,
        offset: doffset,
        // ∂/∂mean = −γ/σ · Σg;  ∂/∂variance = −½ γ/σ² · Σ g·x̂
        mean: () => tf.neg(tf.mul(tf.mul(scale, inv()), doffset())),
        variance: () => tf.mul(tf.mul(tf.mul(scale, tf.square(inv())), dscale()), -0.5),
      };
    },
  });
}

/**
 * Training-mode batch norm over all axes but the last, then relu if asked: returns y and the batch mean and
 * biased variance (as tf.moments). With `moving` (the moving mean and variance, and the momentum m) it also
 * returns the updated moving statistics m·moving + (1 − m)·batch, computed in the same kernel. Requires
 * `fusedLayersActive()` (the `native` backend).
 */
export function batchNormTrainAct(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
  moving?: { mean: tf.Tensor1D; variance: tf.Tensor1D; momentum: number },
): {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  moving?: { mean: tf.Tensor1D; variance: tf.Tensor1D };
} {
  const inputs: tf.NamedTensorMap = moving
    ? { x, scale, offset, movingMean: moving.mean, movingVariance: moving.variance }
    : { x, scale, offset };
  const attrs: tf.NamedAttrMap = moving ? { epsilon, relu, momentum: moving.momentum } : { epsilon, relu };
  const [y, mean, variance, mm, mv] = tf.engine().runKernel(BATCH_NORM_TRAIN, inputs, attrs) as unknown as tf.Tensor[];
  return {
    y,
    mean: mean as tf.Tensor1D,
    variance: variance as tf.Tensor1D,
    ...(moving ? { moving: { mean: mm as tf.Tensor1D, variance: mv as tf.Tensor1D } } : {}),
  };
}

/** Inference-mode batch norm with given statistics (per-channel vectors), then relu if asked. Native only. */
export function batchNormInferAct(
  x: tf.Tensor,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): tf.Tensor {
  return tf.engine().runKernel(BATCH_NORM_INFER, { x, mean, variance, scale, offset }, { epsilon, relu }) as tf.Tensor;
}
