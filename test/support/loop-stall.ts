/**
 * Measures how long the event loop is held: an interval timer records how late each of its callbacks runs (a
 * callback due every `tickMs` that runs N ms late means the loop was held for about N ms). Node's
 * `monitorEventLoopDelay` histogram is no substitute: it read a single 65 s busy loop as 35 ms.
 */
import { performance } from 'node:perf_hooks';

export interface StallMeter {
  /** The longest stall so far in ms, counting one still going on. */
  maxMs(): number;
  stop(): void;
}

export function startStallMeter(tickMs = 100): StallMeter {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - tickMs);
    last = now;
  }, tickMs);
  timer.unref();
  return {
    maxMs: () => Math.max(max, performance.now() - last - tickMs),
    stop: () => clearInterval(timer),
  };
}
