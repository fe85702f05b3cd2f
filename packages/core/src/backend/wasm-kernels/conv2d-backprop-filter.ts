/**
 * Conv2DBackpropFilter on wasm (tfjs-backend-wasm has none), as one forward XNNPACK convolution.
 *
 * With x: [N,H,W,Ci], dy: [N,OH,OW,Co], stride s and forward padding (pt, pl), the filter gradient is
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh + kh − pt, ow·sw + kw − pl, ci] · dy[n,oh,ow,co].
 * Read x̃ = xᵀ: [Ci,H,W,N] as a batch of Ci images with N channels and d̃y = dyᵀ: [OH,OW,N,Co] as an
 * OH×OW filter with N input and Co output channels, dilated by the forward stride. Then
 *   out[ci,kh,kw,co] = Σ_{oh,ow,n} x̃[ci, kh + oh·sh − pt, kw + ow·sw − pl, n] · d̃y[oh,ow,n,co]
 * is a stride-1 convolution with padding (pt, pl) on top/left and whatever bottom/right padding makes the
 * output KH×KW (negative means the forward pass never read those rows: they are cropped instead).
 * Transposing out to [KH,KW,Ci,Co] gives dW.
 *
 * XNNPACK re-packs the filter operand (here d̃y, of size OH·OW·N·Co) on every call, which dominates when
 * the image side is thin (Ci·KH·KW small, e.g. a first layer on grey images). There the patches matrix
 * X̂[p, (kh,kw,ci)] = x[n, oh·sh + kh − pt, ow·sw + kw − pl, ci] (zero outside), p = (n,oh,ow), is written
 * in JS and dWᵀ = dyᵀ · X̂ is one matrix product whose packed operand is the small X̂.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendWasm, heapF32, type Info, release, reshape, run, transpose } from './kernel-call.ts';

/** Patch width Ci·KH·KW up to which the patches route is used; exported for benchmarks. */
export const tuning = { maxPatchWidth: 32 };

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2DBackpropFilter(args: {
  inputs: { x: Info; dy: Info };
  backend: BackendWasm;
  attrs: Attrs;
}): Info {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    throw new Error('Conv2DBackpropFilter on wasm supports only dataFormat NHWC (channels last)');
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const {
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outHeight: OH,
    outWidth: OW,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { filterHeight: KH, filterWidth: KW } = info;
  if (dy.shape[1] !== OH || dy.shape[2] !== OW) {
    throw new Error(`Conv2DBackpropFilter: dy shape ${dy.shape} does not match the forward output ${OH}×${OW}`);
  }
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  if (KH * KW * Ci <= tuning.maxPatchWidth) return viaPatches(backend, x, dy, info);
  let pb = KH + (OH - 1) * sh - H - pt;
  let pr = KW + (OW - 1) * sw - W - pl;

  let img = transpose(backend, x, [3, 1, 2, 0]); // [Ci,H,W,N]
  if (pb < 0 || pr < 0) {
    const cropped = run(
      'Slice',
      backend,
      { x: img },
      {
        begin: [0, 0, 0, 0],
        size: [Ci, H + Math.min(pb, 0), W + Math.min(pr, 0), x.shape[0]],
      },
    );
    release(backend, img);
    img = cropped;
    pb = Math.max(pb, 0);
    pr = Math.max(pr, 0);
  }
  const filt = transpose(backend, dy, [1, 2, 0, 3]); // [OH,OW,N,Co]
  const out = run(
    'Conv2D',
    backend,
    { x: img, filter: filt },
    {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  ); // [Ci,KH,KW,Co]
  release(backend, img, filt);
  const dw = transpose(backend, out, [1, 2, 0, 3]);
  release(backend, out);
  return dw;
}

function viaPatches(backend: BackendWasm, x: Info, dy: Info, info: tf.backend_util.Conv2DInfo): Info {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const P = N * OH * OW;
  const K = KH * KW * Ci;
  const patches = backend.makeOutput([1, P, K], 'float32');
  const dy2 = reshape(backend, dy, [P, Co]);
  const dyT = transpose(backend, dy2, [1, 0]);
  const dyT3 = reshape(backend, dyT, [1, Co, P]);
  const xs = heapF32(backend, x);
  const ps = heapF32(backend, patches);
  let p = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, p += K) {
        let k = p;
        for (let kh = 0; kh < KH; kh++) {
          const r = oh * sh + kh - pt;
          for (let kw = 0; kw < KW; kw++, k += Ci) {
            const c = ow * sw + kw - pl;
            if (r < 0 || r >= H || c < 0 || c >= W) {
              ps.fill(0, k, k + Ci);
            } else {
              const src = ((n * H + r) * W + c) * Ci;
              for (let ci = 0; ci < Ci; ci++) ps[k + ci] = xs[src + ci];
            }
          }
        }
      }
    }
  }
  const prod = run('BatchMatMul', backend, { a: dyT3, b: patches }, { transposeA: false, transposeB: false }); // [1,Co,K]
  const prod2 = reshape(backend, prod, [Co, K]);
  const dwT = transpose(backend, prod2, [1, 0]); // [K,Co]
  const dw = reshape(backend, dwT, [KH, KW, Ci, Co]);
  release(backend, patches, dy2, dyT, dyT3, prod, prod2, dwT);
  return dw;
}
