/**
 * `arcal doctor`: which tensor backend would run, and why each other one is or is not available; and, where
 * tfjs-node-gpu loads, whether TensorFlow actually placed its work on a GPU (it falls back to the CPU without a
 * word when the CUDA libraries, the driver or the device are missing).
 */
import { probeBackends, ready, tf } from '@arcal/core';
import type { ParsedArgs } from '../args.ts';

/** What the GPU verdict is decided from; gathered by `gpuFacts`, injected by tests. */
export interface GpuFacts {
  /** Whether `@tensorflow/tfjs-node-gpu` loads in this process. */
  loads: boolean;
  /** The `tensorflow` backend's own flags, when it could be initialised and reports them. */
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
  cudaVisibleDevices?: string;
}

export type GpuState = 'absent' | 'gpu' | 'cpu-fallback' | 'unknown';

export interface GpuVerdict {
  state: GpuState;
  line: string;
}

export function gpuVerdict(f: GpuFacts): GpuVerdict {
  const visible = f.cudaVisibleDevices === undefined ? '' : `; CUDA_VISIBLE_DEVICES=${f.cudaVisibleDevices}`;
  if (!f.loads) return { state: 'absent', line: 'GPU: not checked (@tensorflow/tfjs-node-gpu does not load here)' };
  if (f.isGPUPackage === false)
    return {
      state: 'cpu-fallback',
      line: 'GPU: NOT in use: the tensorflow backend was registered by @tensorflow/tfjs-node, the CPU build',
    };
  if (f.isUsingGpuDevice === true)
    return { state: 'gpu', line: `GPU: in use (TensorFlow placed its ops on a GPU device${visible})` };
  if (f.isUsingGpuDevice === false) {
    const hidden = f.cudaVisibleDevices !== undefined && /^(\s*|-1)$/.test(f.cudaVisibleDevices);
    return {
      state: 'cpu-fallback',
      line: hidden
        ? `GPU: NOT in use: CUDA_VISIBLE_DEVICES="${f.cudaVisibleDevices}" hides every GPU, so TensorFlow runs on the CPU`
        : 'GPU: NOT in use: tfjs-node-gpu loaded but TensorFlow found no usable GPU and runs on the CPU ' +
          `(check the NVIDIA driver, CUDA 11.8 and cuDNN 8 libraries, and that the device reaches this process${visible})`,
    };
  }
  return { state: 'unknown', line: 'GPU: unknown (this tfjs-node-gpu does not report which device it uses)' };
}

/** Doctor fails only where a GPU was asked for and TensorFlow is quietly running on the CPU instead. */
export function doctorExitCode(requested: string | undefined, gpu: GpuVerdict): number {
  return requested === 'tfjs-node-gpu' && gpu.state === 'cpu-fallback' ? 1 : 0;
}

/** Reads the flags tfjs-node sets on its backend when it creates its TensorFlow context. Needs a GPU to mean anything. */
async function gpuFacts(loads: boolean): Promise<GpuFacts> {
  const cuda = process.env.CUDA_VISIBLE_DEVICES;
  const facts: GpuFacts = { loads, ...(cuda === undefined ? {} : { cudaVisibleDevices: cuda }) };
  if (!loads) return facts;
  try {
    const b = tf.findBackend('tensorflow') as {
      isGPUPackage?: boolean;
      isUsingGpuDevice?: boolean;
      binding?: { isUsingGpuDevice?: () => boolean };
    } | null;
    if (!b) return facts;
    const onGpu = typeof b.isUsingGpuDevice === 'boolean' ? b.isUsingGpuDevice : b.binding?.isUsingGpuDevice?.();
    return {
      ...facts,
      ...(typeof b.isGPUPackage === 'boolean' ? { isGPUPackage: b.isGPUPackage } : {}),
      ...(typeof onGpu === 'boolean' ? { isUsingGpuDevice: onGpu } : {}),
    };
  } catch {
    return facts;
  }
}

export async function doctorCommand(a: ParsedArgs): Promise<number> {
  const probes = await probeBackends();
  const requested = typeof a.flags.backend === 'string' ? a.flags.backend : process.env.ARCAL_BACKEND || undefined;
  const info = await ready({ backend: typeof a.flags.backend === 'string' ? a.flags.backend : undefined });
  const gpu = gpuVerdict(await gpuFacts(probes.some((p) => p.name === 'tfjs-node-gpu' && p.available)));
  const rows = probes.map(
    (p) => `  ${p.name === info.name ? '▶' : p.available ? '✓' : '✗'} ${p.name.padEnd(14)} ${p.reason}`,
  );
  if (a.flags.json) {
    console.log(JSON.stringify({ active: info.name, threads: info.threads, backends: probes, gpu }));
    return doctorExitCode(requested, gpu);
  }
  console.log(`active backend: ${info.name} (${info.reason}; ${info.threads} threads)`);
  console.log('chain (first available wins; ARCAL_BACKEND forces one):');
  for (const r of rows) console.log(r);
  console.log(gpu.line);
  const native = probes.find((p) => p.name === 'native');
  if (native && !native.available)
    console.log('  to enable native kernels: apt-get install libdnnl-dev && npm run build:native');
  return doctorExitCode(requested, gpu);
}
