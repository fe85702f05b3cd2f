/**
 * The wasm backend (XNNPACK, SIMD) with arcal's gradient kernels registered on top of it
 * (see wasm-kernels/). Imports no I/O beyond locating the .wasm files inside node_modules.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

export async function initWasmBackend(threads: number): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
  wasm.setWasmPaths(dist.endsWith('/') ? dist : `${dist}/`);
  wasm.setThreadsCount?.(threads);
  let extra = '';
  try {
    const { registerWasmKernels } = await import('./wasm-kernels/index.ts');
    extra = `, ${registerWasmKernels()} arcal gradient kernels`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  return `tfjs-backend-wasm (XNNPACK${extra})`;
}
