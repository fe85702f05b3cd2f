import { describe, expect, it } from 'vitest';
import { startStallMeter } from '../support/loop-stall.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

describe('the event-loop stall meter behind the per-file guard', () => {
  it('sees one synchronous block as a stall of about its length', async () => {
    const meter = startStallMeter(50);
    await sleep(120);
    busy(600);
    await sleep(120);
    const max = meter.maxMs();
    meter.stop();
    // the 600 ms block less at most one tick of slack; a busy machine can only make it longer
    expect(max).toBeGreaterThanOrEqual(540);
    expect(max).toBeLessThan(10_000);
  });

  it('counts a block that is still going on when it is read', () => {
    const meter = startStallMeter(50);
    busy(300);
    const max = meter.maxMs();
    meter.stop();
    expect(max).toBeGreaterThanOrEqual(240);
  });
});
