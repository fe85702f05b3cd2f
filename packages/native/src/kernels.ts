/**
 * Native kernel functions for the `native` backend. Each one handles the float32 cases the addon
 * supports and otherwise calls the JS kernel it replaces (passed in as `fallback`), so results never
 * depend on whether a case is covered. Per-kernel counters record which path ran (tests use them to prove
 * the native path was exercised).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.ts';
import type { NativeBackend } from './backend.ts';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: Args) => tf.TensorInfo | tf.TensorInfo[];
/** Kernel inputs by name; optional ones (bias, preluActivationWeights) may be absent at run time. */
type Inputs = Record<string, tf.TensorInfo>;
export type NativeImpl = (
  backend: NativeBackend,
  inputs: Inputs,
  attrs: tf.NamedAttrMap,
) => tf.TensorInfo | tf.TensorInfo[] | undefined;

/**
 * Max-pool window positions recorded by the forward kernel, keyed by the output's dataId (a tensor's data
 * never changes and a dataId is never reused, so an entry cannot go stale; it dies with the output).
 */
const argmaxByOutput = new WeakMap<object, { argmax: Uint8Array; geom: string }>();

/** Whether a gradient tape is recording (tfjs-core keeps the depth in its engine state). */
const taping = () => ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;

/** Elementwise work below this many elements stays in JS (the call costs more than it saves). */
export const ELEMENTWISE_MIN = 4096;

const counters = new Map<string, { native: number; fallback: number }>();

/** How often each kernel ran natively and how often it fell back to JS, since the last reset. */
export function nativeKernelStats(reset = false): Record<string, { native: number; fallback: number }> {
  const out = Object.fromEntries([...counters].map(([k, v]) => [k, { ...v }]));
  if (reset) counters.clear();
  return out;
}

/** Records that kernel `name` ran natively or fell back to JS (for `nativeKernelStats`). */
export function countKernel(name: string, native: boolean) {
  let c = counters.get(name);
  if (!c) {
    c = { native: 0, fallback: 0 };
    counters.set(name, c);
  }
  if (native) c.native++;
  else c.fallback++;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function convGeom(c: tf.backend_util.Conv2DInfo): Int32Array | undefined {
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1 || c.dataFormat !== 'channelsLast') return undefined;
  const p = c.padInfo;
  // oneDNN derives the output size as floor((H + pads − K) / s) + 1; decline geometries that disagree.
  const oh = Math.floor((c.inHeight + p.top + p.bottom - c.filterHeight) / c.strideHeight) + 1;
  const ow = Math.floor((c.inWidth + p.left + p.right - c.filterWidth) / c.strideWidth) + 1;
  if (oh !== c.outHeight || ow !== c.outWidth || Math.min(p.top, p.bottom, p.left, p.right) < 0) return undefined;
  return Int32Array.from([
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    c.outChannels,
    c.outHeight,
    c.outWidth,
    c.strideHeight,
    c.strideWidth,
    p.top,
    p.bottom,
    p.left,
    p.right,
  ]);
}

function poolGeom(c: tf.backend_util.Conv2DInfo): Int32Array | undefined {
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return undefined;
  return Int32Array.from([
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
  ]);
}

const dilationsOne = (d: unknown) => d == null || d === 1 || (Array.isArray(d) && d.every((v) => v === 1));

/** NHWC conv info from tfjs's own geometry rules (same/valid/explicit padding, rounding mode). */
function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.backend_util.Conv2DInfo | undefined {
  if (attrs.dataFormat === 'NCHW' || !dilationsOne(attrs.dilations) || xShape.length !== 4) return undefined;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
}

function poolInfo(xShape: number[], attrs: tf.NamedAttrMap): tf.backend_util.Conv2DInfo | undefined {
  if (xShape.length !== 4) return undefined;
  return tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

/** A bias usable as a per-output-channel vector: float32, size n, last dimension n. */
function channelBias(b: NativeBackend, bias: tf.TensorInfo | undefined, n: number): Float32Array | null | undefined {
  if (bias == null) return null;
  const v = b.f32(bias);
  if (!v || v.length !== n || bias.shape[bias.shape.length - 1] !== n) return undefined;
  return v;
}

function convForward(
  addon: NativeAddon,
  b: NativeBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  relu: boolean,
  attrs: tf.NamedAttrMap,
) {
  const xv = b.f32(x),
    wv = b.f32(filter);
  if (!xv || !wv) return undefined;
  const info = convInfo(x.shape, filter.shape, attrs);
  const geom = info && convGeom(info);
  if (!info || !geom) return undefined;
  const bv = channelBias(b, bias, info.outChannels);
  if (bv === undefined) return undefined;
  const y = b.pool.take(size(info.outShape));
  if (!addon.conv2d(xv, wv, bv, y, geom, relu)) {
    b.pool.giveBack(y);
    return undefined;
  }
  return b.output(info.outShape, y);
}

type BinaryName = 'Add' | 'Sub' | 'Multiply' | 'RealDiv';
const BINARY_OP: Record<BinaryName, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 };

/** Whether `shape` broadcast to `out` repeats with a period of its own size (leading 1s, then out's tail). */
function periodic(shape: number[], out: number[]): boolean {
  const pad = out.length - shape.length;
  let k = 0;
  while (k < shape.length && shape[k] === 1) k++;
  for (let i = k; i < shape.length; i++) if (shape[i] !== out[i + pad]) return false;
  return true;
}

/**
 * For `shape` broadcast to `out` as out with one contiguous block of dimensions set to 1 after a leading block
 * kept (e.g. [N,1,1,C] or [N,1,1,1] against [N,H,W,C]): out as [outer, mid, inner] with mid the broadcast
 * block. Undefined for any other pattern (a periodic one included: no leading kept block).
 */
function midBroadcast(shape: number[], out: number[]): [number, number, number] | undefined {
  const s = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  const dims: [number, number, number] = [1, 1, 1];
  let block = 0; // 0: leading kept dimensions, 1: broadcast ones, 2: trailing kept ones
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 1) continue;
    const kept = s[i] === out[i];
    if (block === 0 && !kept) block = 1;
    else if (block === 1 && kept) block = 2;
    else if (block === 2 && !kept) return undefined;
    dims[block === 2 ? 2 : block] *= out[i];
  }
  return block === 0 || dims[0] === 1 ? undefined : dims;
}

function binaryImpl(addon: NativeAddon, op: number): NativeImpl {
  return (b, { a, b: bt }) => {
    const av = b.f32(a),
      bv = b.f32(bt);
    if (!av || !bv) return undefined;
    const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, bt.shape);
    const n = size(out);
    if (n < ELEMENTWISE_MIN || (av.length !== n && bv.length !== n)) return undefined;
    if (periodic(a.shape, out) && periodic(bt.shape, out)) {
      const o = b.pool.take(n);
      addon.binary(op, av, bv, o);
      return b.output(out, o);
    }
    const dims = midBroadcast(av.length === n ? bt.shape : a.shape, out);
    if (!dims) return undefined;
    const o = b.pool.take(n);
    addon.binaryMid(op, av, bv, o, ...dims);
    return b.output(out, o);
  };
}

function unaryImpl(addon: NativeAddon, op: number, alpha?: (attrs: tf.NamedAttrMap) => number): NativeImpl {
  return (b, { x }, attrs) => {
    const xv = b.f32(x);
    if (!xv || xv.length < ELEMENTWISE_MIN) return undefined;
    const o = b.pool.take(xv.length);
    addon.unary(op, xv, o, alpha ? alpha(attrs) : 0);
    return b.output(x.shape, o);
  };
}

function matmulImpl(addon: NativeAddon, fused: boolean): NativeImpl {
  return (b, { a, b: bt, bias, preluActivationWeights }, attrs) => {
    const av = b.f32(a),
      bv = b.f32(bt);
    if (!av || !bv || a.shape.length < 2 || bt.shape.length < 2) return undefined;
    const activation = fused ? ((attrs.activation as string | undefined) ?? 'linear') : 'linear';
    if (activation !== 'linear' && activation !== 'relu') return undefined;
    if (preluActivationWeights != null) return undefined;
    const tA = !!attrs.transposeA,
      tB = !!attrs.transposeB;
    const ra = a.shape.length,
      rb = bt.shape.length;
    const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = tA ? a.shape[ra - 2] : a.shape[ra - 1];
    const K2 = tB ? bt.shape[rb - 1] : bt.shape[rb - 2];
    const N = tB ? bt.shape[rb - 2] : bt.shape[rb - 1];
    if (K !== K2) return undefined; // the JS kernel reports the mismatch
    const aOuter = a.shape.slice(0, -2),
      bOuter = bt.shape.slice(0, -2);
    const outer = tf.backend_util.assertAndGetBroadcastShape(aOuter, bOuter);
    const batch = size(outer),
      batchA = size(aOuter),
      batchB = size(bOuter);
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
    const biasV = fused ? channelBias(b, bias, N) : null;
    if (biasV === undefined) return undefined;
    const o = b.pool.take(batch * M * N);
    addon.matmul(
      av,
      bv,
      o,
      Int32Array.from([batchA, batchB, M, N, K, tA ? 1 : 0, tB ? 1 : 0]),
      biasV,
      activation === 'relu',
    );
    return b.output([...outer, M, N], o);
  };
}

/** Sum (or Mean) over a contiguous block of axes: x as [outer, mid, inner] with mid reduced, in double. */
function reduceImpl(addon: NativeAddon, mean: boolean): NativeImpl {
  return (b, { x }, attrs) => {
    const xv = b.f32(x);
    if (!xv || xv.length < ELEMENTWISE_MIN) return undefined;
    const axes = [...new Set(tf.util.parseAxisParam(attrs.axis as number | number[], x.shape))].sort((p, q) => p - q);
    if (axes.length === 0 || !axes.every((ax, i) => ax === axes[0] + i)) return undefined;
    const outer = size(x.shape.slice(0, axes[0]));
    const mid = size(axes.map((ax) => x.shape[ax]));
    const inner = size(x.shape.slice(axes[axes.length - 1] + 1));
    const kept = x.shape.filter((_, i) => !axes.includes(i));
    const outShape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept;
    const o = b.pool.take(outer * inner);
    if (inner === 1) addon.sumInner(xv, o, outer, mid);
    else if (outer === 1) addon.sumOuter(xv, o, mid, inner);
    else addon.sumMiddle(xv, o, outer, mid, inner);
    if (mean) for (let i = 0; i < o.length; i++) o[i] /= mid;
    return b.output(outShape, o);
  };
}

/** A per-channel vector of an NHWC-style tensor: float32, size C, last dimension C (any leading 1s). */
function channelVector(b: NativeBackend, t: tf.TensorInfo | undefined, C: number): Float32Array | undefined {
  const v = t && b.f32(t);
  return v && v.length === C && t.shape[t.shape.length - 1] === C ? v : undefined;
}

/** tf.batchNorm with per-channel statistics over the last axis: y = (x − mean)·scale/√(var + ε) + offset. */
function batchNormImpl(addon: NativeAddon): NativeImpl {
  return (b, { x, mean, variance, offset, scale }, attrs) => {
    const xv = b.f32(x);
    if (!xv || x.shape.length === 0) return undefined;
    // the JS kernel checks that the vectors' ranks agree; let it report a mismatch
    if ([variance, offset, scale].some((t) => t != null && t.shape.length !== mean.shape.length)) return undefined;
    const C = x.shape[x.shape.length - 1];
    const m = channelVector(b, mean, C);
    const v = channelVector(b, variance, C);
    const g = scale == null ? new Float32Array(C).fill(1) : channelVector(b, scale, C);
    const o = offset == null ? new Float32Array(C) : channelVector(b, offset, C);
    if (!m || !v || !g || !o || C === 0) return undefined;
    const eps = (attrs.varianceEpsilon as number | undefined) ?? 0.001;
    const y = b.pool.take(xv.length);
    addon.bnApply(
      xv,
      m,
      g.map((gc, c) => gc / Math.sqrt(v[c] + eps)),
      o,
      y,
      false,
    );
    return b.output(x.shape, y);
  };
}

/** The native implementations, by tfjs kernel name. */
export function nativeImpls(addon: NativeAddon): Record<string, NativeImpl> {
  const impls: Record<string, NativeImpl> = {
    Conv2D: (b, { x, filter }, attrs) => convForward(addon, b, x, filter, undefined, false, attrs),
    FusedConv2D: (b, { x, filter, bias, preluActivationWeights }, attrs) => {
      const act = (attrs.activation as string | undefined) ?? 'linear';
      if ((act !== 'linear' && act !== 'relu') || preluActivationWeights != null) return undefined;
      return convForward(addon, b, x, filter, bias, act === 'relu', attrs);
    },
    Conv2DBackpropInput: (b, { dy, filter }, attrs) => {
      const dyv = b.f32(dy),
        wv = b.f32(filter);
      if (!dyv || !wv) return undefined;
      const inShape = attrs.inputShape as number[];
      const info = convInfo(inShape, filter.shape, attrs);
      const geom = info && convGeom(info);
      if (!info || !geom || size(info.outShape) !== dyv.length) return undefined;
      const dx = b.pool.take(size(inShape));
      if (!addon.conv2dBackpropInput(dyv, wv, dx, geom)) return void b.pool.giveBack(dx);
      return b.output(inShape, dx);
    },
    Conv2DBackpropFilter: (b, { x, dy }, attrs) => {
      const xv = b.f32(x),
        dyv = b.f32(dy);
      if (!xv || !dyv) return undefined;
      const fShape = attrs.filterShape as number[];
      const info = convInfo(x.shape, fShape, attrs);
      const geom = info && convGeom(info);
      if (!info || !geom || size(info.outShape) !== dyv.length) return undefined;
      const dw = b.pool.take(size(fShape));
      if (!addon.conv2dBackpropFilter(xv, dyv, dw, geom)) return void b.pool.giveBack(dw);
      return b.output(fShape, dw);
    },
    MaxPool: (b, { x }, attrs) => {
      const xv = b.f32(x);
      const info = xv && poolInfo(x.shape, attrs);
      const geom = info && poolGeom(info);
      if (!xv || !info || !geom) return undefined;
      const y = b.pool.take(size(info.outShape));
      // Under a gradient tape, keep each maximum's position for MaxPoolGrad instead of searching again.
      const keep = taping() && info.filterHeight * info.filterWidth < 255;
      const argmax = keep ? new Uint8Array(y.length) : null;
      addon.maxPool(xv, y, geom, argmax);
      const out = b.output(info.outShape, y);
      if (argmax) argmaxByOutput.set(out.dataId, { argmax, geom: geom.join() });
      return out;
    },
    MaxPoolGrad: (b, { dy, input, output }, attrs) => {
      const dyv = b.f32(dy),
        xv = b.f32(input);
      const info = dyv && xv && poolInfo(input.shape, attrs);
      const geom = info && poolGeom(info);
      if (!dyv || !xv || !info || !geom || size(info.outShape) !== dyv.length) return undefined;
      const dx = b.pool.take(xv.length);
      const saved = output && argmaxByOutput.get(output.dataId);
      if (saved && saved.geom === geom.join()) addon.maxPoolGradArgmax(dyv, saved.argmax, dx, geom);
      else addon.maxPoolGrad(dyv, xv, dx, geom);
      return b.output(input.shape, dx);
    },
    AvgPool: (b, { x }, attrs) => {
      const xv = b.f32(x);
      const info = xv && poolInfo(x.shape, attrs);
      const geom = info && poolGeom(info);
      if (!xv || !info || !geom) return undefined;
      const y = b.pool.take(size(info.outShape));
      addon.avgPool(xv, y, geom);
      return b.output(info.outShape, y);
    },
    AvgPoolGrad: (b, { dy, input }, attrs) => {
      const dyv = b.f32(dy);
      // The JS kernel ignores dimRoundingMode here; so do we.
      const info = dyv && poolInfo(input.shape, { ...attrs, dimRoundingMode: undefined as unknown as string });
      const geom = info && poolGeom(info);
      if (!dyv || !info || !geom || size(info.outShape) !== dyv.length) return undefined;
      const dx = b.pool.take(size(input.shape));
      addon.avgPoolGrad(dyv, dx, geom);
      return b.output(input.shape, dx);
    },
    BatchMatMul: matmulImpl(addon, false),
    _FusedMatMul: matmulImpl(addon, true),
    Relu: unaryImpl(addon, 0),
    Step: unaryImpl(addon, 1, (attrs) => (attrs.alpha as number | undefined) ?? 0),
    Exp: unaryImpl(addon, 2),
    Log: unaryImpl(addon, 3),
    Neg: unaryImpl(addon, 4),
    Sqrt: unaryImpl(addon, 5),
    Square: unaryImpl(addon, 6),
    ClipByValue: (b, { x }, attrs) => {
      const xv = b.f32(x);
      if (!xv || xv.length < ELEMENTWISE_MIN || typeof addon.clip !== 'function') return undefined;
      const o = b.pool.take(xv.length);
      addon.clip(xv, o, attrs.clipValueMin as number, attrs.clipValueMax as number);
      return b.output(x.shape, o);
    },
    Sum: reduceImpl(addon, false),
    Mean: reduceImpl(addon, true),
    FusedBatchNorm: batchNormImpl(addon),
  };
  for (const name of Object.keys(BINARY_OP) as BinaryName[]) impls[name] = binaryImpl(addon, BINARY_OP[name]);
  return impls;
}

/**
 * Whether a fused kernel of arcal's (layers, batch norm, optimizer) can run now: the `native` backend is current,
 * `kernelName` is registered on it, and ARCAL_NATIVE_FUSED is not 0.
 */
export function fusedKernelActive(kernelName: string): boolean {
  if (process.env.ARCAL_NATIVE_FUSED === '0') return false;
  const name = tf.getBackend();
  return name === 'native' && tf.getKernel(kernelName, name) !== undefined;
}

/** A kernelFunc running `impl`, or `fallback` (the JS kernel) when `impl` declines. */
export function withFallback(name: string, impl: NativeImpl, fallback: KernelFn): tf.KernelFunc {
  return (args) => {
    const out = impl(args.backend as NativeBackend, args.inputs as Inputs, args.attrs ?? {});
    countKernel(name, out !== undefined);
    return out ?? fallback(args);
  };
}
