/**
 * BatchMatMul on wasm with transposeA/transposeB: the stock kernel takes a slow loop when asked to
 * transpose, so the operands are transposed explicitly (last two axes) and the plain XNNPACK matmul
 * computes C[b] = op(A[b]) · op(B[b]), op(M) = Mᵀ when the flag is set.
 */
import { type BackendWasm, type Info, release, run, transpose } from './kernel-call.ts';

function swapLastTwo(x: Info, backend: BackendWasm): Info {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(backend, x, perm);
}

export function batchMatMul(args: {
  inputs: { a: Info; b: Info };
  backend: BackendWasm;
  attrs: { transposeA: boolean; transposeB: boolean };
}): Info {
  const { inputs, backend, attrs } = args;
  const { transposeA, transposeB } = attrs;
  if ((!transposeA && !transposeB) || inputs.a.dtype !== 'float32' || inputs.b.dtype !== 'float32') {
    return run('BatchMatMul', backend, inputs, attrs);
  }
  const a = transposeA ? swapLastTwo(inputs.a, backend) : inputs.a;
  const b = transposeB ? swapLastTwo(inputs.b, backend) : inputs.b;
  const out = run('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
  release(backend, transposeA ? a : undefined, transposeB ? b : undefined);
  return out;
}
