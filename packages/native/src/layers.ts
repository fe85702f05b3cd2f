/**
 * Fused layers with their own backward: y = act(conv(x, W) + b) and y = act(x·W + b), act ∈ {linear, relu}.
 *
 * Under a gradient tape tfjs-core un-fuses `tf.fused.conv2d` / `tf.fused.matMul` with a relu into three
 * kernels (conv or matmul, a broadcast Add, Relu), and their gradients cost three more full-size passes
 * (Step, Multiply, and Sum for the bias), each into a fresh buffer. These layers are one registered
 * kernel each (forward: the native fused conv / matmul with bias and relu), with a registered gradient that
 * does the relu mask and the bias reduction in a single native pass (`biasReluGrad`) and then only the
 * convolution or matmul gradients that the tape asks for (an attack asks for ∂/∂x only; training on data
 * never asks for ∂/∂x of the first layer). The conv layer also serves convs without bias (the residual nets'):
 * tfjs's `tf.fused.conv2d` computes both the input and the filter gradient whatever the tape needs.
 *
 * Kernels are registered on the `native` backend only; every other backend keeps tfjs's own fused ops, and
 * the `cpu` backend is the reference these layers are tested against.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.ts';
import type { NativeBackend } from './backend.ts';
import { fusedKernelActive, type NativeImpl, withFallback } from './kernels.ts';

export const CONV_BIAS_ACT = 'ArcalConv2DBiasAct';
export const MATMUL_BIAS_ACT = 'ArcalMatMulBiasAct';
export const BIAS_ACT_GRAD = 'ArcalBiasActGrad';

type KernelFn = tf.KernelFunc;
type Impl = NativeImpl;

/** Forward implementations from kernels.ts (the native fused conv and matmul), declining unsupported cases. */
export interface FusedForward {
  conv: Impl;
  matmul: Impl;
}

function jsKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`tfjs cpu kernel ${name} is not registered`);
  return k.kernelFunc;
}

/** dy · step(y) and its column sums, in JavaScript (the native kernel's fallback); without y only the sums of dy. */
function biasActGradJs(
  dy: Float32Array,
  y: Float32Array | null,
  cols: number,
): { g: Float32Array | null; db: Float32Array } {
  const g = y ? new Float32Array(dy.length) : null;
  const acc = new Float64Array(cols);
  for (let i = 0; i < dy.length; i++) {
    const v = y ? dy[i] * (y[i] > 0 ? 1 : 0) : dy[i];
    if (g) g[i] = v;
    acc[i % cols] += v;
  }
  return { g, db: Float32Array.from(acc) };
}

/** tfjs's fused-op attributes for a layer kernel's `relu` flag. */
const convAttrs = (attrs: tf.NamedAttrMap | undefined): tf.NamedAttrMap => ({
  ...attrs,
  activation: attrs?.relu ? 'relu' : 'linear',
  dataFormat: 'NHWC',
  dilations: 1,
});
const matmulAttrs = (attrs: tf.NamedAttrMap | undefined): tf.NamedAttrMap => ({
  transposeA: false,
  transposeB: false,
  activation: attrs?.relu ? 'relu' : 'linear',
});

/** Registers the three kernels on `backendName` and their gradients (once per process). */
export function registerFusedLayers(addon: NativeAddon, forward: FusedForward, backendName: string): void {
  if (tf.getKernel(CONV_BIAS_ACT, backendName)) return;
  const fusedConvJs = jsKernel('FusedConv2D');
  const fusedMatMulJs = jsKernel('_FusedMatMul');

  tf.registerKernel({
    kernelName: CONV_BIAS_ACT,
    backendName,
    kernelFunc: withFallback(
      CONV_BIAS_ACT,
      (b, inputs, attrs) => forward.conv(b, inputs, convAttrs(attrs)),
      (args) => fusedConvJs({ ...args, backend: args.backend as object, attrs: convAttrs(args.attrs) }),
    ),
  });
  tf.registerKernel({
    kernelName: MATMUL_BIAS_ACT,
    backendName,
    kernelFunc: withFallback(
      MATMUL_BIAS_ACT,
      (b, inputs, attrs) => forward.matmul(b, inputs, matmulAttrs(attrs)),
      (args) => fusedMatMulJs({ ...args, backend: args.backend as object, attrs: matmulAttrs(args.attrs) }),
    ),
  });
  tf.registerKernel({
    kernelName: BIAS_ACT_GRAD,
    backendName,
    kernelFunc: withFallback(
      BIAS_ACT_GRAD,
      (b, { dy, y }, attrs) => {
        const cols = attrs.channels as number;
        const dyv = b.f32(dy);
        const yv = attrs.relu ? b.f32(y) : null;
        if (!dyv || yv === undefined) return undefined;
        const g = yv ? b.pool.take(dyv.length) : null;
        const db = b.pool.take(cols);
        addon.biasReluGrad(dyv, yv, g, db);
        const dbInfo = b.output([cols], db);
        return g ? [b.output(dy.shape, g), dbInfo] : [dbInfo];
      },
      ({ inputs, backend, attrs }) => {
        const b = backend as NativeBackend;
        const { dy, y } = inputs as Record<string, tf.TensorInfo>;
        const cols = attrs?.channels as number;
        const r = biasActGradJs(
          b.readSync(dy.dataId) as Float32Array,
          attrs?.relu ? (b.readSync(y.dataId) as Float32Array) : null,
          cols,
        );
        const dbInfo = b.makeTensorInfo([cols], 'float32', r.db);
        return r.g ? [b.makeTensorInfo(dy.shape, 'float32', r.g), dbInfo] : [dbInfo];
      },
    ),
  });

  /** The relu-masked gradient (dy itself without relu) and the bias gradient, from one native pass. */
  const maskAndBias = (dy: tf.Tensor, y: tf.Tensor, relu: boolean): [tf.Tensor, tf.Tensor] => {
    const channels = dy.shape[dy.shape.length - 1];
    const outs = tf
      .engine()
      .runKernel(BIAS_ACT_GRAD, relu ? { dy, y } : { dy }, { relu, channels }) as unknown as tf.Tensor[];
    return relu ? [outs[0], outs[1]] : [dy, outs[0]];
  };

  tf.registerGradient({
    kernelName: CONV_BIAS_ACT,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved;
      const conv = { strides: attrs.strides, pad: attrs.pad, dataFormat: 'NHWC' };
      // A linear conv without bias passes dy through unchanged (and the tape asks for no bias gradient).
      const [g, db] =
        attrs.hasBias === false && !attrs.relu
          ? [dy as tf.Tensor, undefined]
          : maskAndBias(dy as tf.Tensor, y, !!attrs.relu);
      return {
        x: () =>
          tf
            .engine()
            .runKernel('Conv2DBackpropInput', { dy: g, filter }, { ...conv, inputShape: x.shape }) as tf.Tensor,
        filter: () =>
          tf
            .engine()
            .runKernel('Conv2DBackpropFilter', { x, dy: g }, { ...conv, filterShape: filter.shape }) as tf.Tensor,
        ...(db ? { bias: () => db } : {}),
      };
    },
  });
  tf.registerGradient({
    kernelName: MATMUL_BIAS_ACT,
    inputsToSave: ['a', 'b'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, w, y] = saved;
      const [g, db] = maskAndBias(dy as tf.Tensor, y, !!attrs.relu);
      return {
        a: () => tf.matMul(g, w, false, true),
        b: () => tf.matMul(a, g, true, false),
        bias: () => db,
      };
    },
  });
}

/** Whether the fused layers can run now: the `native` backend is current and they are registered on it. */
export const fusedLayersActive = (): boolean => fusedKernelActive(CONV_BIAS_ACT);

/**
 * act(conv2d(x, filter) + bias), NHWC, dilation 1; relu or linear; `bias` may be undefined (a plain conv whose
 * backward still computes only the gradients the tape asks for). Requires `fusedLayersActive()`.
 */
export function conv2dBiasAct(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | undefined,
  strides: number | [number, number],
  pad: 'same' | 'valid',
  relu: boolean,
): tf.Tensor4D {
  return tf.engine().runKernel(CONV_BIAS_ACT, bias ? { x, filter, bias } : { x, filter }, {
    strides,
    pad,
    relu,
    hasBias: bias !== undefined,
  }) as tf.Tensor4D;
}

/** act(x·w + bias) for a 2-D x; relu or linear. Requires `fusedLayersActive()`. */
export function denseBiasAct(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D, relu: boolean): tf.Tensor2D {
  return tf.engine().runKernel(MATMUL_BIAS_ACT, { a: x, b: w, bias }, { relu }) as tf.Tensor2D;
}
