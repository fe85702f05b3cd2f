/**
 * Box-feasible gradient for inputs constrained to the box [0, 1]: g with the components zeroed along which a
 * step −g would only leave the box,
 *
 *   out_i = 0    if (x_i ≤ tol and g_i > 0) or (x_i ≥ 1 − tol and g_i < 0),
 *   out_i = g_i  otherwise.
 *
 * As tf ops this is lessEqual, greater, logicalAnd, greaterEqual, less, logicalAnd, logicalOr, zerosLike and where,
 * nine JavaScript kernels over the full input; here it is one kernel. tol and 1 − tol are rounded to float32 as
 * tfjs rounds a scalar operand, and the comparisons are float comparisons, false when either side is NaN (as
 * tfjs's cpu comparison kernels are): a NaN pixel or gradient, and a gradient of ±0, pass g through unchanged. The
 * zero written where a component is blocked is +0. The result is therefore bit-for-bit what the tf ops give.
 *
 * The kernel is registered on the `native` backend only. `boxFeasibleGradient` uses it there for float32 inputs of
 * equal shape and computes the tf-op formula on every other backend (and for other dtypes or shapes), so those
 * backends give exactly what the formula gives. No gradient is defined through the kernel: it is meant for a
 * gradient that has already been computed, outside any tape (as the FMN attack uses it).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.ts';
import { jsArrays, type KernelArrays, type NativeBackend, nativeArrays } from './backend.ts';
import { fusedKernelActive, withFallback } from './kernels.ts';

export const BOX_GRAD = 'ArcalBoxFeasibleGradient';

type BoxOps = Pick<NativeAddon, 'boxFeasibleGradient'>;

/** The same selection in JavaScript (lo, hi already float32 values), used when the addon declines. */
export const boxGradJs: BoxOps = {
  boxFeasibleGradient(x, g, out, lo, hi) {
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      const gi = g[i];
      out[i] = (xi <= lo && gi > 0) || (xi >= hi && gi < 0) ? 0 : gi;
    }
  },
};

type Io = KernelArrays & { ops: BoxOps };

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

function run(io: Io, inputs: Record<string, tf.TensorInfo>, attrs: tf.NamedAttrMap): tf.TensorInfo | undefined {
  const { x, g } = inputs;
  if (!x || !g || !sameShape(x.shape, g.shape)) return undefined;
  const xv = io.values(x);
  const gv = io.values(g);
  if (!xv || !gv) return undefined;
  const out = io.alloc(gv.length);
  io.ops.boxFeasibleGradient(xv, gv, out, attrs.lo as number, attrs.hi as number);
  return io.output(g.shape, out);
}

/** Registers the kernel on `backendName` (once per process); an addon built without it registers nothing. */
export function registerBoxGrad(addon: NativeAddon, backendName: string): void {
  if (tf.getKernel(BOX_GRAD, backendName) || typeof addon.boxFeasibleGradient !== 'function') return;
  tf.registerKernel({
    kernelName: BOX_GRAD,
    backendName,
    kernelFunc: withFallback(
      BOX_GRAD,
      (b, inputs, attrs) => run({ ops: addon, ...nativeArrays(b) }, inputs, attrs),
      ({ inputs, backend, attrs }) => {
        const out = run({ ops: boxGradJs, ...jsArrays(backend as NativeBackend) }, inputs as never, attrs ?? {});
        if (!out) throw new Error(`${BOX_GRAD}: x and g must have the same shape`);
        return out;
      },
    ),
  });
}

/** Whether the native kernel can run now: the `native` backend is current, the kernel registered, ARCAL_NATIVE_FUSED ≠ 0. */
export const boxGradActive = (): boolean => fusedKernelActive(BOX_GRAD);

/** The tf-op formula (what every backend but `native` computes). */
function formula(x: tf.Tensor, g: tf.Tensor, tol: number): tf.Tensor {
  return tf.tidy(() => {
    const blocked = tf.logicalOr(
      tf.logicalAnd(tf.lessEqual(x, tol), tf.greater(g, 0)),
      tf.logicalAnd(tf.greaterEqual(x, 1 - tol), tf.less(g, 0)),
    );
    return tf.where(blocked, tf.zerosLike(g), g);
  });
}

/**
 * The gradient g at a point x of the box [0, 1], with the components zeroed where x sits on a bound (within tol)
 * and −g points out of the box: (x ≤ tol and g > 0) or (x ≥ 1 − tol and g < 0) ? 0 : g, elementwise. One native
 * kernel on the `native` backend for float32 x and g of the same shape; the tf ops of that formula otherwise, with
 * the same result bit for bit. Not differentiable (see above).
 */
export function boxFeasibleGradient(x: tf.Tensor, g: tf.Tensor, tol: number): tf.Tensor {
  if (x.dtype === 'float32' && g.dtype === 'float32' && sameShape(x.shape, g.shape) && g.size > 0 && boxGradActive())
    return tf.engine().runKernel(BOX_GRAD, { x, g }, {
      lo: Math.fround(tol),
      hi: Math.fround(1 - tol),
    } as never) as tf.Tensor;
  return formula(x, g, tol);
}
