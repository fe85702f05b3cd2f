/**
 * Conv2DBackpropInput on wasm as one forward XNNPACK convolution (the stock kernel is a scalar loop).
 *
 * With dy: [N,OH,OW,Co], W: [KH,KW,Ci,Co], stride s and forward padding (pt, pl):
 *   dx[n,h,w,ci] = Σ_{kh,kw,co} dy[n,oh,ow,co] · W[kh,kw,ci,co]   over h = oh·sh + kh − pt, w = ow·sw + kw − pl.
 * Let d̂y be dy with sh−1 (sw−1) zero rows (columns) between its rows (columns), and
 * F[a,b,co,ci] = W[KH−1−a, KW−1−b, ci, co] (flipped in space, channels swapped). Then
 *   dx[n,h,w,ci] = Σ_{a,b,co} d̂y[n, h + a − (KH−1−pt), w + b − (KW−1−pl), co] · F[a,b,co,ci],
 * a stride-1 convolution of d̂y with F, padded by KH−1−pt on top (KW−1−pl on the left) and by what makes the
 * output H×W at the bottom/right. For stride 1 with non-negative padding XNNPACK pads; otherwise the padded,
 * zero-dilated d̂y is written once in JS and convolved with 'valid' padding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendWasm, heapF32, type Info, release, run } from './kernel-call.ts';

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

export function conv2DBackpropInput(args: {
  inputs: { dy: Info; filter: Info };
  backend: BackendWasm;
  attrs: Attrs;
}): Info {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    return run(
      'Conv2DBackpropInput',
      backend,
      inputs as unknown as Record<string, Info>,
      attrs as unknown as Record<string, unknown>,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co } = info;
  const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const padTop = KH - 1 - info.padInfo.top;
  const padLeft = KW - 1 - info.padInfo.left;
  const padBottom = H + KH - 1 - padTop - ((OH - 1) * sh + 1);
  const padRight = W + KW - 1 - padLeft - ((OW - 1) * sw + 1);

  // F[a,b,co,ci] = W[KH-1-a, KW-1-b, ci, co]: small, one pass in JS.
  const flipped = backend.makeOutput([KH, KW, Co, Ci], 'float32');
  let image: Info = dy;
  const simple = sh === 1 && sw === 1 && padTop >= 0 && padLeft >= 0 && padBottom >= 0 && padRight >= 0;
  if (!simple) {
    image = backend.makeOutput([N, H + KH - 1, W + KW - 1, Co], 'float32');
  }
  const f = heapF32(backend, flipped);
  const w = heapF32(backend, filter);
  for (let a = 0; a < KH; a++) {
    for (let b = 0; b < KW; b++) {
      const src0 = ((KH - 1 - a) * KW + (KW - 1 - b)) * Ci * Co;
      const dst0 = (a * KW + b) * Co * Ci;
      for (let ci = 0; ci < Ci; ci++) {
        for (let co = 0; co < Co; co++) f[dst0 + co * Ci + ci] = w[src0 + ci * Co + co];
      }
    }
  }
  if (!simple) {
    const PH = H + KH - 1;
    const PW = W + KW - 1;
    const p = heapF32(backend, image);
    const d = heapF32(backend, dy);
    p.fill(0);
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        const r = padTop + oh * sh;
        if (r < 0 || r >= PH) continue;
        for (let ow = 0; ow < OW; ow++) {
          const c = padLeft + ow * sw;
          if (c < 0 || c >= PW) continue;
          const src = ((n * OH + oh) * OW + ow) * Co;
          p.set(d.subarray(src, src + Co), ((n * PH + r) * PW + c) * Co);
        }
      }
    }
  }
  const dx = run(
    'Conv2D',
    backend,
    { x: image, filter: flipped },
    {
      strides: [1, 1],
      dilations: [1, 1],
      pad: simple
        ? [
            [0, 0],
            [padTop, padBottom],
            [padLeft, padRight],
            [0, 0],
          ]
        : 'valid',
      dataFormat: 'NHWC',
    },
  );
  release(backend, flipped, image === dy ? undefined : image);
  return dx;
}
