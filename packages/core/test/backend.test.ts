import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES, NATIVE_SLOWER_ARCHS, probeBackends, ready } from '../src/backend/index.ts';

describe('backend chain', () => {
  it('refuses an unknown backend name instead of falling back', async () => {
    await expect(ready({ backend: 'tpu' })).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringContaining('ARCAL_BACKEND must be one of'),
    });
  });
  it('refuses a forced backend that cannot load, naming why', async () => {
    const probes = await probeBackends();
    const missing = probes.find((p) => !p.available);
    if (!missing) return; // every backend loads on this machine: nothing to refuse
    await expect(ready({ backend: missing.name })).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringContaining(missing.name),
    });
  });
  it('probes every backend of the chain in order with a reason', async () => {
    const probes = await probeBackends();
    expect(probes.map((p) => p.name)).toEqual([...BACKEND_NAMES]);
    expect(probes.every((p) => p.reason.length > 0)).toBe(true);
    expect(probes.find((p) => p.name === 'cpu')!.available).toBe(true);
  });
  it('no longer skips native for the residual nets (they left NATIVE_SLOWER_ARCHS when batch norm went native)', async () => {
    expect([...NATIVE_SLOWER_ARCHS]).toEqual([]);
    const lines: string[] = [];
    // the first successful ready() of this file: the chain really runs (later calls return its choice)
    const info = await ready({ arch: 'resnet', log: (l) => lines.push(l) });
    expect(lines.join('\n')).not.toContain('native skipped');
    if ((await probeBackends()).find((p) => p.name === 'native')?.available)
      expect(['tfjs-node-gpu', 'tfjs-node', 'native']).toContain(info.name);
  });
});
