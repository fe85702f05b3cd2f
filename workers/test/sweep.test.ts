/** The worker's schedule for the artifact store's sweep (ARCAL_SWEEP_INTERVAL_MS, ARCAL_SWEEP_GRACE_MS). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startSweep, sweepScheduleFromEnv, sweeps } from '../src/sweep.ts';

describe('sweepScheduleFromEnv', () => {
  it('sweeps hourly with a day of grace by default; 0 turns it off; bad values are refused by name', () => {
    expect(sweepScheduleFromEnv({})).toEqual({ intervalMs: 3_600_000, graceMs: 86_400_000 });
    expect(sweepScheduleFromEnv({ ARCAL_SWEEP_INTERVAL_MS: '0' }).intervalMs).toBe(0);
    expect(sweepScheduleFromEnv({ ARCAL_SWEEP_INTERVAL_MS: '600000', ARCAL_SWEEP_GRACE_MS: '7200000' })).toEqual({
      intervalMs: 600_000,
      graceMs: 7_200_000,
    });
    expect(() => sweepScheduleFromEnv({ ARCAL_SWEEP_INTERVAL_MS: 'hourly' })).toThrow(/ARCAL_SWEEP_INTERVAL_MS/);
    expect(() => sweepScheduleFromEnv({ ARCAL_SWEEP_INTERVAL_MS: '-1' })).toThrow(/ARCAL_SWEEP_INTERVAL_MS/);
    expect(() => sweepScheduleFromEnv({ ARCAL_SWEEP_GRACE_MS: '1000' })).toThrow(
      /ARCAL_SWEEP_GRACE_MS must be at least/,
    );
  });

  it('sweeps only an object store: a shared local folder holds unrecorded job files', () => {
    const on = sweepScheduleFromEnv({});
    const s3 = { kind: 's3', bucket: 'b', prefix: '' } as never;
    expect(sweeps(s3, on)).toBe(true);
    expect(sweeps({ kind: 'file', dir: '/x' }, on)).toBe(false);
    expect(sweeps(undefined, on)).toBe(false);
    expect(sweeps(s3, { ...on, intervalMs: 0 })).toBe(false);
  });
});

describe('startSweep', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('first after a random part of one interval, then every interval after the previous pass; stop ends it', async () => {
    vi.useFakeTimers();
    const calls: Array<{ at: number; graceMs: number }> = [];
    const t0 = Date.now();
    const store = {
      async sweep(o: { graceMs: number }) {
        calls.push({ at: Date.now() - t0, graceMs: o.graceMs });
        return { removed: ['a', 'b'], abortedUploads: 1, uploadListing: 'done' as const };
      },
    };
    const logged: string[] = [];
    const stop = startSweep(
      store,
      { intervalMs: 1000, graceMs: 5000 },
      (_l, m, d) => logged.push(`${m} ${JSON.stringify(d)}`),
      () => 0.25,
    );
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(2000);
    // 250, 1250, 2250
    expect(calls).toEqual([250, 1250, 2250].map((at) => ({ at, graceMs: 5000 })));
    expect(logged[0]).toBe('artifact store swept {"removed":2,"abortedUploads":1}');
    stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls.length).toBe(3);
  });

  it('a failed pass is logged and the next one still runs', async () => {
    vi.useFakeTimers();
    let n = 0;
    const store = {
      async sweep() {
        n++;
        if (n === 1) throw new Error('listing refused');
        return { removed: [], abortedUploads: 0, uploadListing: 'done' as const };
      },
    };
    const logged: string[] = [];
    const stop = startSweep(
      store,
      { intervalMs: 100, graceMs: 60_000 },
      (l, m, d) => logged.push(`${l} ${m} ${d?.err ?? ''}`),
      () => 0,
    );
    await vi.advanceTimersByTimeAsync(150);
    stop();
    expect(n).toBe(2);
    // a pass that removed nothing says nothing
    expect(logged).toEqual(['warn artifact store sweep failed; the next one retries listing refused']);
  });
});
