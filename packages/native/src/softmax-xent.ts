/**
 * Softmax cross-entropy with soft targets, per row of [N, K] logits z and targets t:
 *
 *   L_i = −Σ_k t_ik · log softmax(z_i)_k,    ∂L_i/∂z_i = softmax(z_i) · Σ_k t_ik − t_i
 *
 * (t_i need not sum to 1; any nonnegative row works). As tf ops this is logSoftmax (Max, Sub, Exp, Sum, Log, Sub),
 * a Multiply, a Sum and a Neg, and about as many again in the backward: on [64, 10] every one of them is a
 * JavaScript kernel whose dispatch costs more than its arithmetic. Here the forward is one kernel and the
 * backward one more. Both subtract the row maximum before exponentiating (no overflow for any finite logits) and
 * accumulate in double.
 *
 * The kernels are registered on the `native` backend only. `softmaxCrossEntropyRows` uses them there and computes
 * tf.neg(tf.sum(tf.mul(t, tf.logSoftmax(z)), 1)) on every other backend (and for shapes or dtypes the kernel does
 * not take), so those backends give exactly what that formula gives. The targets are constants wherever arcal
 * uses the loss; their gradient, −log softmax(z_i) · dy_i, is still provided (as tf ops, computed only when a
 * gradient with respect to the targets is asked for). The gradient kernel has no gradient of its own: second
 * derivatives through the native path are not supported.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.ts';
import { jsArrays, type KernelArrays, type NativeBackend, nativeArrays } from './backend.ts';
import { fusedKernelActive, withFallback } from './kernels.ts';

export const SOFTMAX_XENT = 'ArcalSoftmaxXent';
export const SOFTMAX_XENT_GRAD = 'ArcalSoftmaxXentGrad';

/** The addon's two passes (also implemented in JavaScript below, for the fallback). */
export type XentOps = Pick<NativeAddon, 'softmaxXent' | 'softmaxXentGrad'>;

/** Row maximum m and log Σ exp(z − m) of row i, in double. */
function rowShift(z: Float32Array, i: number, k: number): [number, number] {
  let m = z[i * k];
  for (let j = 1; j < k; j++) if (z[i * k + j] > m) m = z[i * k + j];
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.exp(z[i * k + j] - m);
  return [m, Math.log(s)];
}

/** The same passes in JavaScript (double arithmetic, same formulas), used when the addon declines. */
export const xentJs: XentOps = {
  softmaxXent(z, t, loss, rows, cols) {
    for (let i = 0; i < rows; i++) {
      const [m, logSum] = rowShift(z, i, cols);
      let acc = 0;
      for (let j = 0; j < cols; j++) acc += t[i * cols + j] * (z[i * cols + j] - m - logSum);
      loss[i] = -acc;
    }
  },
  softmaxXentGrad(z, t, dy, dz, rows, cols) {
    for (let i = 0; i < rows; i++) {
      const [m, logSum] = rowShift(z, i, cols);
      let tSum = 0;
      for (let j = 0; j < cols; j++) tSum += t[i * cols + j];
      for (let j = 0; j < cols; j++) {
        const p = Math.exp(z[i * cols + j] - m - logSum);
        dz[i * cols + j] = (p * tSum - t[i * cols + j]) * dy[i];
      }
    }
  },
};

type Inputs = Record<string, tf.TensorInfo>;
type Io = KernelArrays & { ops: XentOps };

/** [rows, cols] when logits and targets are both [rows, cols] with cols > 0; undefined otherwise. */
function rowsCols(z: tf.TensorInfo | undefined, t: tf.TensorInfo | undefined): [number, number] | undefined {
  if (!z || !t || z.shape.length !== 2 || t.shape.length !== 2) return undefined;
  const [rows, cols] = z.shape;
  return t.shape[0] === rows && t.shape[1] === cols && cols > 0 ? [rows, cols] : undefined;
}

function forward(io: Io, { logits, targets }: Inputs): tf.TensorInfo | undefined {
  const rc = rowsCols(logits, targets);
  const z = rc && io.values(logits);
  const t = rc && io.values(targets);
  if (!rc || !z || !t) return undefined;
  const loss = io.alloc(rc[0]);
  io.ops.softmaxXent(z, t, loss, rc[0], rc[1]);
  return io.output([rc[0]], loss);
}

function backward(io: Io, { dy, logits, targets }: Inputs): tf.TensorInfo | undefined {
  const rc = rowsCols(logits, targets);
  const z = rc && io.values(logits);
  const t = rc && io.values(targets);
  const d = rc && dy && dy.shape.length === 1 && dy.shape[0] === rc[0] ? io.values(dy) : undefined;
  if (!rc || !z || !t || !d) return undefined;
  const dz = io.alloc(z.length);
  io.ops.softmaxXentGrad(z, t, d, dz, rc[0], rc[1]);
  return io.output(logits.shape, dz);
}

/**
 * Registers both kernels on `backendName` and the forward's gradient (once per process). An addon built before
 * these kernels existed registers nothing, and the loss then runs as tf ops.
 */
export function registerSoftmaxXent(addon: NativeAddon, backendName: string): void {
  if (tf.getKernel(SOFTMAX_XENT, backendName) || typeof addon.softmaxXent !== 'function') return;
  const jsFallback = (pass: typeof forward, name: string) => {
    return ({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo => {
      const out = pass({ ops: xentJs, ...jsArrays(backend as NativeBackend) }, inputs as Inputs);
      if (!out) throw new Error(`${name}: logits and targets must both be [rows, classes] (and dy [rows])`);
      return out;
    };
  };
  tf.registerKernel({
    kernelName: SOFTMAX_XENT,
    backendName,
    kernelFunc: withFallback(
      SOFTMAX_XENT,
      (b, inputs) => forward({ ops: addon, ...nativeArrays(b) }, inputs),
      jsFallback(forward, SOFTMAX_XENT),
    ),
  });
  tf.registerKernel({
    kernelName: SOFTMAX_XENT_GRAD,
    backendName,
    kernelFunc: withFallback(
      SOFTMAX_XENT_GRAD,
      (b, inputs) => backward({ ops: addon, ...nativeArrays(b) }, inputs),
      jsFallback(backward, SOFTMAX_XENT_GRAD),
    ),
  });
  tf.registerGradient({
    kernelName: SOFTMAX_XENT,
    inputsToSave: ['logits', 'targets'],
    gradFunc: (dy, saved) => {
      const [logits, targets] = saved;
      return {
        logits: () => tf.engine().runKernel(SOFTMAX_XENT_GRAD, { dy: dy as tf.Tensor, logits, targets }) as tf.Tensor,
        // Not used by arcal (targets are constants); tfjs asks for it only when the tape needs it.
        targets: () => tf.mul(tf.neg(tf.logSoftmax(logits)), tf.expandDims(dy as tf.Tensor, 1)),
      };
    },
  });
}

/** Whether the native loss can run now: the `native` backend is current, the kernel registered, ARCAL_NATIVE_FUSED ≠ 0. */
export const softmaxXentActive = (): boolean => fusedKernelActive(SOFTMAX_XENT);

/**
 * Per-row softmax cross-entropy −Σ_k t_ik · log softmax(z_i)_k of logits [N, K] against soft targets [N, K], as a
 * tensor [N], differentiable with respect to both. One native kernel (and one for the gradient) on the `native`
 * backend for float32 inputs of equal shape; tf.neg(tf.sum(tf.mul(t, tf.logSoftmax(z)), 1)) otherwise.
 */
export function softmaxCrossEntropyRows(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor1D {
  if (
    logits.dtype === 'float32' &&
    targets.dtype === 'float32' &&
    rowsCols(logits, targets) !== undefined &&
    logits.shape[0] > 0 &&
    softmaxXentActive()
  )
    return tf.engine().runKernel(SOFTMAX_XENT, { logits, targets }) as tf.Tensor1D;
  return tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
}
