/**
 * MaxPoolGrad on wasm, reading and writing the wasm heap from JS.
 *
 * dx[n,h,w,c] = Σ_{oh,ow : (h,w) = argmax(n,oh,ow,c)} dy[n,oh,ow,c], where argmax is the first position,
 * in row-major window order, holding the window's maximum under strict `>` starting from −∞ — the rule of
 * tfjs's cpu backend. Windows with no value above −∞ (all NaN or −∞) send no gradient. The stock wasm
 * kernel starts its running maximum at the smallest positive float, so an all-zero window (common after
 * ReLU) sends its gradient to the wrong place; this kernel does not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendWasm, heapF32, type Info, run } from './kernel-call.ts';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function maxPoolGrad(args: {
  inputs: { dy: Info; input: Info; output?: Info };
  backend: BackendWasm;
  attrs: Attrs;
}): Info {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') {
    return run(
      'MaxPoolGrad',
      backend,
      inputs as unknown as Record<string, Info>,
      attrs as unknown as Record<string, unknown>,
    );
  }
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;

  const dxInfo = backend.makeOutput(input.shape, 'float32');
  const x = heapF32(backend, input);
  const g = heapF32(backend, dy);
  const dx = heapF32(backend, dxInfo);
  dx.fill(0);
  const rowStride = W * C;
  for (let n = 0; n < N; n++) {
    const xBatch = n * H * rowStride;
    for (let oh = 0; oh < OH; oh++) {
      const r0 = oh * sh - pt;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(H, r0 + KH);
      for (let ow = 0; ow < OW; ow++) {
        const c0 = ow * sw - pl;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(W, c0 + KW);
        const first = xBatch + rMin * rowStride + cMin * C;
        const gBase = ((n * OH + oh) * OW + ow) * C;
        if (rMax - rMin === 2 && cMax - cMin === 2) {
          // The common 2×2 window, unrolled; same order and rule as the general loop below.
          for (let ch = 0; ch < C; ch++) {
            const i0 = first + ch;
            const i1 = i0 + C;
            const i2 = i0 + rowStride;
            const i3 = i2 + C;
            let m = Number.NEGATIVE_INFINITY;
            let at = -1;
            let v = x[i0];
            if (v > m) {
              m = v;
              at = i0;
            }
            v = x[i1];
            if (v > m) {
              m = v;
              at = i1;
            }
            v = x[i2];
            if (v > m) {
              m = v;
              at = i2;
            }
            v = x[i3];
            if (v > m) {
              at = i3;
            }
            if (at >= 0) dx[at] += g[gBase + ch];
          }
          continue;
        }
        for (let ch = 0; ch < C; ch++) {
          let m = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = rMin; r < rMax; r++) {
            let i = xBatch + r * rowStride + cMin * C + ch;
            for (let c = cMin; c < cMax; c++, i += C) {
              const v = x[i];
              if (v > m) {
                m = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += g[gBase + ch];
        }
      }
    }
  }
  return dxInfo;
}
