import { describe, expect, it } from 'vitest';
import { formatDuration, formatRate, Progress, rateOf } from '../src/progress.ts';

/** A Progress writing into a string, on a clock the test moves by hand. */
function fake(tty: boolean) {
  let out = '';
  let t = 1_000_000;
  const p = new Progress({ stream: { write: (s: string) => (out += s) }, tty, now: () => t });
  return {
    p,
    advance: (ms: number) => {
      t += ms;
    },
    take: () => {
      const s = out;
      out = '';
      return s;
    },
  };
}

describe('rate and time left', () => {
  it('is the average since the series started, and the rest at that rate', () => {
    // 25 items in 10 s: 2.5 items/s; 75 left take 30 s.
    expect(rateOf(0, 0, 25, 100, 10_000)).toEqual({ perSecond: 2.5, etaSeconds: 30 });
    // Started counting at 40 (a resumed series): 20 more in 4 s = 5/s; 40 left = 8 s.
    expect(rateOf(40, 1000, 60, 100, 5000)).toEqual({ perSecond: 5, etaSeconds: 8 });
  });

  it('has no rate before time passes or work is done, and no time left once done', () => {
    expect(rateOf(0, 5000, 10, 100, 5000)).toEqual({});
    expect(rateOf(10, 0, 10, 100, 3000)).toEqual({});
    expect(rateOf(0, 0, 100, 100, 20_000)).toEqual({ perSecond: 5, etaSeconds: 0 });
  });

  it('formats rates and durations', () => {
    expect([formatRate(2.5), formatRate(12.34), formatRate(1234.5), formatRate(undefined)]).toEqual([
      '2.50/s',
      '12.3/s',
      '1235/s',
      '—/s',
    ]);
    // 3725 s = 1 h 2 min 5 s; 59.2 s rounds up to a whole minute; 0 is done.
    expect([formatDuration(3725), formatDuration(59.2), formatDuration(0), formatDuration(undefined)]).toEqual([
      '1:02:05',
      '1:00',
      '0:00',
      '—',
    ]);
  });
});

describe('Progress', () => {
  it('off a TTY prints a line at most every 5 s and at the end, with rate and ETA', () => {
    const f = fake(false);
    f.p.update('attack', 0, 200);
    expect(f.take()).toBe('attack: 0/200 (0%), —/s, ETA —\n');
    f.advance(2000);
    f.p.update('attack', 20, 200);
    expect(f.take()).toBe(''); // 2 s after the last line
    f.advance(3000);
    f.p.update('attack', 50, 200);
    // 50 in 5 s = 10/s; 150 left = 15 s
    expect(f.take()).toBe('attack: 50/200 (25%), 10.0/s, ETA 0:15\n');
    f.advance(1000);
    f.p.update('attack', 200, 200);
    // 200 in 6 s
    expect(f.take()).toBe('attack: 200/200 (100%), 33.3/s, ETA 0:00\n');
    expect(f.take()).not.toContain('\x1b[');
  });

  it('starts a new series when the label changes or the count goes back down', () => {
    const f = fake(true);
    f.p.update('member 1 batches', 0, 10);
    f.advance(10_000);
    f.p.update('member 1 batches', 10, 10);
    expect(f.take()).toContain('10/10 1.00/s, ETA 0:00');
    // The next epoch restarts at 1 after 1 s: its rate is unknown until time passes, not 11 items in 11 s.
    f.advance(1000);
    f.p.update('member 1 batches', 1, 10);
    expect(f.take()).toMatch(/1\/10 —\/s, ETA —$/);
    f.advance(2000);
    f.p.update('member 1 batches', 5, 10);
    // 4 items in 2 s = 2/s; 5 left = 2.5 s, shown rounded up
    expect(f.take()).toMatch(/5\/10 2\.00\/s, ETA 0:03$/);
    f.advance(1000);
    f.p.update('attack fmn', 3, 6);
    expect(f.take()).toMatch(/attack fmn .* 3\/6 —\/s, ETA —$/);
  });

  it('on a TTY redraws one line and clears it before a message', () => {
    const f = fake(true);
    f.p.update('x', 1, 4);
    f.p.line('hello');
    const s = f.take();
    expect(s.startsWith('\r\x1b[2Kx ')).toBe(true);
    expect(s.endsWith('\r\x1b[2Khello\n')).toBe(true);
    // 1 of 4 on a 28-cell bar: 7 cells filled
    expect(s).toContain(`${'█'.repeat(7)}${'░'.repeat(21)} 1/4`);
  });
});
