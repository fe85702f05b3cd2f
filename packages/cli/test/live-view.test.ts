import type { ExperimentStreamEvent } from '@arcal/client';
import { describe, expect, it } from 'vitest';
import { LiveView } from '../src/commands/remote/follow.ts';

/** A view writing into a string, on a clock the test moves by hand. */
function view(tty: boolean) {
  let err = '';
  let t = 5_000_000;
  const io = { env: {}, stdout: { write: () => true }, stderr: { write: (s: string) => (err += s), isTTY: tty } };
  const v = new LiveView(io, tty, () => t);
  const snapshot = {
    event: 'snapshot',
    data: {
      experiment: { status: 'running', spec: { ensemble: { members: 2 }, training: { epochs: 10 } } },
      epochs: [],
    },
  } as unknown as ExperimentStreamEvent;
  const epoch = (member: number, e: number) =>
    ({ event: 'epoch', data: { type: 'epoch', member, epoch: e, record: {} } }) as ExperimentStreamEvent;
  return {
    v,
    snapshot,
    epoch,
    advance: (ms: number) => {
      t += ms;
    },
    take: () => {
      const s = err;
      err = '';
      return s;
    },
  };
}

describe('submit --wait: time left per member', () => {
  it('off a TTY: from the second epoch seen, the epochs to go at the pace since the first', () => {
    const f = view(false);
    f.v.event(f.snapshot);
    f.advance(60_000); // a minute in the queue: not part of the pace
    f.v.event(f.epoch(0, 1));
    f.advance(30_000);
    f.v.event(f.epoch(0, 2));
    f.advance(30_000);
    f.v.event(f.epoch(0, 4));
    // 1 epoch in 30 s; 8 to go = 240 s. Then 3 epochs in 60 s: 20 s each; 6 to go = 120 s.
    expect(
      f
        .take()
        .split('\n')
        .filter((l) => l.startsWith('member')),
    ).toEqual(['member 0 epoch 1/10', 'member 0 epoch 2/10: ETA 4:00', 'member 0 epoch 4/10: ETA 2:00']);
  });

  it('on a TTY: each member line carries its own time left, unknown until its pace is', () => {
    const f = view(true);
    f.v.event(f.snapshot);
    f.v.event(f.epoch(1, 3));
    f.advance(10_000);
    f.v.event(f.epoch(1, 5));
    // member 1: 2 epochs in 10 s = 5 s each; 5 to go = 25 s. Member 0 has finished none.
    const last = f.take().split('\x1b[').pop()!;
    expect(last).toMatch(/member 0 {2}░{24} 0\/10 {2}ETA —/);
    expect(last).toMatch(/member 1 {2}█{12}░{12} 5\/10 {2}ETA 0:25/);
  });
});
