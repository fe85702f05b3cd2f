/**
 * Sum over leading axes on wasm (bias gradients: s[c] = Σ_{n,h,w} dy[n,h,w,c]).
 *
 * The stock kernel first moves the reduced axes innermost with a full transpose. For axes {0..k−1} of a
 * float32 tensor viewed as X: [P, C] (P = product of the reduced sizes), this kernel accumulates the rows
 * of X in one sequential pass over the wasm heap, in float64 (as tfjs's cpu backend does), then rounds to
 * float32. Other reductions go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendWasm, heapF32, type Info, run } from './kernel-call.ts';

export function sum(args: {
  inputs: { x: Info };
  backend: BackendWasm;
  attrs: { axis: number | number[]; keepDims: boolean };
}): Info {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(attrs.axis, x.shape))].sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  const P = x.shape.slice(0, axes.length).reduce((p, q) => p * q, 1);
  const C = x.shape.slice(axes.length).reduce((p, q) => p * q, 1);
  if (!leading || x.dtype !== 'float32' || C === 1 || P === 1 || P * C === 0) {
    return run('Sum', backend, inputs, attrs);
  }
  const kept = x.shape.map((d, i) => (i < axes.length ? 1 : d));
  const out = backend.makeOutput(attrs.keepDims ? kept : x.shape.slice(axes.length), 'float32');
  const acc = new Float64Array(C);
  const xs = heapF32(backend, x);
  for (let p = 0, i = 0; p < P; p++) {
    for (let c = 0; c < C; c++, i++) acc[c] += xs[i];
  }
  heapF32(backend, out).set(acc);
  return out;
}
