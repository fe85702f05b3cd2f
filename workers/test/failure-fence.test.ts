/** The start a failed attempt made travels with its error from a compute process to the main process. */
import { describe, expect, it } from 'vitest';
import { fenceOfFailure } from '../src/run-job.ts';

/** What BullMQ's sandbox does to a compute process's error: its own properties, through JSON, onto a new Error. */
function acrossProcesses(err: Error): Error {
  const own: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(err)) own[k] = (err as unknown as Record<string, unknown>)[k];
  return Object.assign(new Error(), JSON.parse(JSON.stringify(own)));
}

describe('fenceOfFailure', () => {
  it('reads the fence of an error from this process and from a compute process (startedAt as a string)', () => {
    const startedAt = new Date('2026-01-02T03:04:05.678Z');
    const err = Object.assign(new Error('boom'), { fence: { attempts: 2, startedAt } });
    expect(fenceOfFailure(err)).toEqual({ attempts: 2, startedAt });
    const copied = acrossProcesses(err);
    expect(copied.message).toBe('boom');
    expect(fenceOfFailure(copied)).toEqual({ attempts: 2, startedAt: '2026-01-02T03:04:05.678Z' });
  });

  it('is undefined for an error without one (a failure before the job started, a crashed compute process)', () => {
    expect(fenceOfFailure(new Error('Unexpected exit code: null signal: SIGKILL'))).toBeUndefined();
    expect(fenceOfFailure(Object.assign(new Error('x'), { fence: { attempts: '2', startedAt: 1 } }))).toBeUndefined();
    expect(fenceOfFailure(null)).toBeUndefined();
  });
});
