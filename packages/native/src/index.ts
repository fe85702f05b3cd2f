/**
 * @arcal/native: tfjs's cpu backend with its hot kernels on oneDNN and OpenMP, registered as the tfjs
 * backend `native`. Depends on tfjs only; packages/core's backend chain calls `registerNativeBackend`
 * and then `tf.setBackend('native')`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadAddon } from './addon.ts';
import { NativeBackend } from './backend.ts';
import { registerBatchNormLayers } from './batchnorm.ts';
import { registerBoxGrad } from './box-grad.ts';
import { nativeImpls, withFallback } from './kernels.ts';
import { registerFusedLayers } from './layers.ts';
import { registerOptimizerUpdate } from './optimizer.ts';
import { registerSoftmaxXent } from './softmax-xent.ts';

export { loadAddon, type NativeAddon } from './addon.ts';
export { NativeBackend } from './backend.ts';
export {
  BATCH_NORM_GRAD,
  BATCH_NORM_INFER,
  BATCH_NORM_TRAIN,
  batchNormInferAct,
  batchNormTrainAct,
} from './batchnorm.ts';
export { BOX_GRAD, boxFeasibleGradient, boxGradActive, boxGradJs } from './box-grad.ts';
export { BufferPool, type PoolStats } from './buffer-pool.ts';
export { ELEMENTWISE_MIN, nativeKernelStats } from './kernels.ts';
export {
  BIAS_ACT_GRAD,
  CONV_BIAS_ACT,
  conv2dBiasAct,
  denseBiasAct,
  fusedLayersActive,
  MATMUL_BIAS_ACT,
} from './layers.ts';
export {
  fusedOptimizerActive,
  OPTIMIZER_UPDATE,
  optimizerUpdate,
  optimizerUpdateJs,
  type UpdateKind,
  type UpdateScalars,
} from './optimizer.ts';
export {
  SOFTMAX_XENT,
  SOFTMAX_XENT_GRAD,
  softmaxCrossEntropyRows,
  softmaxXentActive,
  xentJs,
} from './softmax-xent.ts';

export const NATIVE_BACKEND = 'native';

/** Whether the addon loads, and why (never throws). */
export function probeNative(): { ok: boolean; reason: string } {
  const { addon, reason } = loadAddon();
  return { ok: addon !== undefined, reason };
}

/**
 * Registers the `native` backend (once per process; later calls only change the thread count) and sets
 * the OpenMP pool shared by oneDNN and the elementwise kernels to `threads`. Does not switch backends.
 */
export function registerNativeBackend(threads: number): { ok: boolean; reason: string } {
  const { addon, reason } = loadAddon();
  if (!addon) return { ok: false, reason };
  const n = addon.setThreads(Math.max(1, Math.floor(threads)));
  if (tf.findBackendFactory(NATIVE_BACKEND) == null) {
    const impls = nativeImpls(addon);
    for (const k of tf.getKernelsForBackend('cpu')) {
      const impl = impls[k.kernelName];
      tf.registerKernel({
        ...k,
        backendName: NATIVE_BACKEND,
        kernelFunc: impl ? withFallback(k.kernelName, impl, k.kernelFunc as never) : k.kernelFunc,
      });
    }
    registerFusedLayers(addon, { conv: impls.FusedConv2D, matmul: impls._FusedMatMul }, NATIVE_BACKEND);
    registerBatchNormLayers(addon, NATIVE_BACKEND);
    registerOptimizerUpdate(addon, NATIVE_BACKEND);
    registerSoftmaxXent(addon, NATIVE_BACKEND);
    registerBoxGrad(addon, NATIVE_BACKEND);
    // Priority below cpu's: the backend is chosen explicitly, never by tfjs's automatic pick.
    tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  }
  return { ok: true, reason: `${reason}, ${n} thread${n === 1 ? '' : 's'}` };
}

/** The live native backend instance (after `tf.setBackend('native')`), e.g. to inspect its buffer pool. */
export function nativeBackend(): NativeBackend | undefined {
  try {
    const b = tf.findBackend(NATIVE_BACKEND);
    return b instanceof NativeBackend ? b : undefined;
  } catch {
    return undefined;
  }
}
