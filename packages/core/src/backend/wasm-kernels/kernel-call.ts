/**
 * Small helpers shared by arcal's wasm kernels: calling another wasm kernel from inside a kernel,
 * reading tensor memory straight from the wasm heap, and releasing intermediates.
 * Must not import anything beyond tfjs-core and tfjs-backend-wasm types.
 */

import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

export type { BackendWasm };
export type Info = tf.TensorInfo;
export type KernelFn = tf.KernelFunc;

/** The wasm kernels that were registered before arcal replaced any of them, by kernel name. */
const stock = new Map<string, tf.KernelConfig>();

/** Remembers the stock config of `name` (once), so a replacement can still reach the original. */
export function rememberStock(name: string): tf.KernelConfig | undefined {
  if (!stock.has(name)) {
    const k = tf.getKernel(name, 'wasm');
    if (k) stock.set(name, k);
  }
  return stock.get(name);
}

export function stockKernel(name: string): tf.KernelConfig | undefined {
  return stock.get(name);
}

/**
 * Runs wasm kernel `name` directly (no engine bookkeeping, no gradient tape). A kernel arcal replaced
 * is reached through its stock config, so a replacement may call "itself" for the cases it delegates.
 */
export function run(
  name: string,
  backend: BackendWasm,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown> = {},
): Info {
  const k = stock.get(name) ?? tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered`);
  const out = k.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
  return out;
}

/** Releases intermediates made inside a kernel (reshapes share data and only drop a reference). */
export function release(backend: BackendWasm, ...infos: (Info | undefined)[]): void {
  for (const i of infos) if (i) backend.disposeData(i.dataId);
}

/** A float32 view of a tensor's memory on the wasm heap. Take it after the last allocation of the kernel. */
export function heapF32(backend: BackendWasm, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function transpose(backend: BackendWasm, x: Info, perm: number[]): Info {
  return run('Transpose', backend, { x }, { perm });
}

export function reshape(backend: BackendWasm, x: Info, shape: number[]): Info {
  return run('Reshape', backend, { x }, { shape });
}
