/**
 * arcal's gradient kernels for the tfjs wasm backend. They replace (or, for Conv2DBackpropFilter, add)
 * kernels whose stock versions are missing, slow or wrong, by re-expressing each gradient as the fast
 * XNNPACK kernels the backend already has (see each file for the identity used) or as a direct loop over
 * the wasm heap. Each handles the channels-last, float32 cases arcal's models produce and hands anything
 * else to the stock kernel, or throws a clear error where there is no stock kernel.
 * Imports only tfjs-core and tfjs-backend-wasm (no I/O).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMul } from './batch-mat-mul.ts';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInput } from './conv2d-backprop-input.ts';
import { cast, identity } from './identity.ts';
import { rememberStock } from './kernel-call.ts';
import { maxPoolGrad } from './max-pool-grad.ts';
import { sum } from './sum.ts';

export const WASM_KERNEL_NAMES = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  'MaxPoolGrad',
  'Sum',
  'Identity',
  'Cast',
] as const;
export type WasmKernelName = (typeof WASM_KERNEL_NAMES)[number];

const implementations: Record<WasmKernelName, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as tf.KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as unknown as tf.KernelFunc,
  BatchMatMul: batchMatMul as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as tf.KernelFunc,
  Sum: sum as unknown as tf.KernelFunc,
  Identity: identity as unknown as tf.KernelFunc,
  Cast: cast as unknown as tf.KernelFunc,
};

const registered = new Set<WasmKernelName>();

export interface RegisterWasmKernelsOptions {
  /** Register only these (default: all of WASM_KERNEL_NAMES); used to measure each kernel's effect. */
  kernels?: readonly WasmKernelName[];
}

/**
 * Registers arcal's kernels on the `wasm` backend, unregistering the stock kernel of the same name first
 * (it stays reachable for the cases handed back to it). Safe to call again: a kernel already registered
 * is left alone. Works before or after the wasm backend is initialised (the stock setup is forwarded).
 * Returns how many arcal kernels are registered on `wasm` after the call.
 */
export function registerWasmKernels(options: RegisterWasmKernelsOptions = {}): number {
  for (const name of options.kernels ?? WASM_KERNEL_NAMES) {
    if (registered.has(name)) continue;
    const stock = rememberStock(name);
    if (stock) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: implementations[name],
      ...(stock?.setupFunc ? { setupFunc: stock.setupFunc } : {}),
    });
    registered.add(name);
  }
  return registered.size;
}

/** The arcal kernels currently registered on `wasm`. */
export function registeredWasmKernels(): WasmKernelName[] {
  return [...registered];
}
