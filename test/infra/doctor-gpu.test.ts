/**
 * `arcal doctor`'s GPU verdict. No GPU and no tfjs-node-gpu here (its install downloads libtensorflow), so the
 * decision is checked on injected facts, and the real command only on this machine's answer: not installed.
 */
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { doctorCommand, doctorExitCode, gpuVerdict } from '../../packages/cli/src/commands/doctor.ts';

describe('gpuVerdict', () => {
  it('a loaded GPU build that reports a GPU device is in use', () => {
    const v = gpuVerdict({ loads: true, isGPUPackage: true, isUsingGpuDevice: true, cudaVisibleDevices: '3' });
    expect(v.state).toBe('gpu');
    expect(v.line).toMatch(/in use .*CUDA_VISIBLE_DEVICES=3/);
  });

  it('a loaded GPU build without a GPU device is the silent CPU fallback, with the cause where it is known', () => {
    const missing = gpuVerdict({ loads: true, isGPUPackage: true, isUsingGpuDevice: false });
    expect(missing.state).toBe('cpu-fallback');
    expect(missing.line).toMatch(/NOT in use.*CUDA 11\.8 and cuDNN 8/);
    for (const hidden of ['', '-1']) {
      const v = gpuVerdict({ loads: true, isGPUPackage: true, isUsingGpuDevice: false, cudaVisibleDevices: hidden });
      expect(v.state).toBe('cpu-fallback');
      expect(v.line).toContain(`CUDA_VISIBLE_DEVICES="${hidden}" hides every GPU`);
    }
  });

  it('the CPU build of tfjs-node never counts as a GPU, whatever it reports', () => {
    expect(gpuVerdict({ loads: true, isGPUPackage: false, isUsingGpuDevice: true }).state).toBe('cpu-fallback');
  });

  it('not loading, or not reporting, is said as such and never as a GPU', () => {
    expect(gpuVerdict({ loads: false, isUsingGpuDevice: true }).state).toBe('absent');
    expect(gpuVerdict({ loads: true }).state).toBe('unknown');
  });

  it('fails only when tfjs-node-gpu was asked for and TensorFlow quietly runs on the CPU', () => {
    const fallback = gpuVerdict({ loads: true, isUsingGpuDevice: false });
    const onGpu = gpuVerdict({ loads: true, isUsingGpuDevice: true });
    expect(doctorExitCode('tfjs-node-gpu', fallback)).toBe(1);
    expect(doctorExitCode('tfjs-node-gpu', onGpu)).toBe(0);
    expect(doctorExitCode(undefined, fallback)).toBe(0);
    expect(doctorExitCode('wasm', fallback)).toBe(0);
  });
});

describe('arcal doctor on this machine', () => {
  it('reports the GPU as not checked because tfjs-node-gpu is not installed here', async () => {
    let installed = true;
    try {
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    } catch {
      installed = false;
    }
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const code = await doctorCommand({ flags: { json: true, backend: 'cpu' }, positionals: [] } as never);
      const out = JSON.parse(String(log.mock.calls.at(-1)![0]));
      expect(code).toBe(0);
      if (!installed) expect(out.gpu.state).toBe('absent');
      else expect(out.gpu.state).not.toBe('absent');
    } finally {
      log.mockRestore();
    }
  });
});
