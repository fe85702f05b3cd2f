/**
 * Identity and same-dtype Cast on wasm without copying.
 *
 * tfjs's engine clones every tensor it saves for the backward pass (an Identity kernel), and the ReLU
 * gradient casts a float32 mask to float32. The stock wasm kernels copy the buffer each time; tensor data
 * is immutable in tfjs, so sharing the buffer under a reference count (as the cpu backend and the wasm
 * Reshape kernel do) gives the same values without the copy.
 * Cast to bool is done here too: the stock kernel truncates (−2.2 becomes 254, not true); tfjs's rule is
 * b = (x ≠ 0), NaN included.
 */
import { type BackendWasm, type Info, run } from './kernel-call.ts';

function share(x: Info, backend: BackendWasm): Info {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function identity(args: { inputs: { x: Info }; backend: BackendWasm }): Info {
  const { inputs, backend } = args;
  if (inputs.x.dtype === 'string') return run('Identity', backend, inputs);
  return share(inputs.x, backend);
}

export function cast(args: { inputs: { x: Info }; backend: BackendWasm; attrs: { dtype: string } }): Info {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  if (attrs.dtype === 'bool' && (x.dtype === 'float32' || x.dtype === 'int32')) {
    const out = backend.makeOutput(x.shape, 'bool');
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
    return out;
  }
  if (x.dtype !== attrs.dtype || attrs.dtype === 'string') return run('Cast', backend, inputs, attrs);
  return share(x, backend);
}
