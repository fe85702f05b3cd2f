import { describe, expect, it } from 'vitest';
import { computeForkOptions, MEMORY_CAP_EXIT, readableFailure } from '../src/supervision.ts';

describe('readableFailure: why a compute process died, in words', () => {
  it('names the memory cap for the resident-size check and for the heap limit, and marks both final', () => {
    expect(readableFailure(`Unexpected exit code: ${MEMORY_CAP_EXIT} signal: null`, 512)).toEqual({
      message:
        'the compute process went over its memory cap of 512 MiB (ARCAL_COMPUTE_MEMORY_MB); the experiment is too large for this worker',
      memory: true,
    });
    const heap = readableFailure('Unexpected exit code: null signal: SIGABRT', 512);
    expect(heap.memory).toBe(true);
    expect(heap.message).toMatch(/ran out of memory \(JavaScript heap cap 512 MiB/);
  });

  it('says what else happened without calling it memory, and leaves ordinary errors as they are', () => {
    const killed = readableFailure('Unexpected exit code: null signal: SIGKILL', 512);
    expect(killed.memory).toBe(false);
    expect(killed.message).toMatch(/^the compute process was killed \(SIGKILL/);
    expect(readableFailure('Unexpected exit code: 1 signal: null', 512)).toEqual({
      message: 'the compute process exited unexpectedly (Unexpected exit code: 1 signal: null)',
      memory: false,
    });
    expect(readableFailure('member 2 has no record of epoch 3', 512)).toEqual({
      message: 'member 2 has no record of epoch 3',
      memory: false,
    });
  });

  it('caps the heap of compute processes and keeps the rest of their fork options', () => {
    const o = computeForkOptions({ env: { CUDA_VISIBLE_DEVICES: '1' } }, 768);
    expect(o.env).toEqual({ CUDA_VISIBLE_DEVICES: '1' });
    expect(o.execArgv?.filter((a) => a.startsWith('--max-old-space-size'))).toEqual(['--max-old-space-size=768']);
  });
});
