/**
 * Guards every test file against blocking its event loop: vitest's worker answers its parent over the same
 * loop, and a file that computes for a minute without yielding fails the whole run with an RPC timeout
 * (on a busy machine, sooner). The longest stall of the file is measured with Node's event-loop delay
 * histogram and must stay under ARCAL_MAX_LOOP_BLOCK_MS (default 8000: the longest stall measured with the machine loaded about 20 deep was 4.2 s). ARCAL_LOOP_REPORT=<file> appends
 * one JSON line per file with its longest stall.
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, expect } from 'vitest';

const limitMs = Number(process.env.ARCAL_MAX_LOOP_BLOCK_MS ?? 8000);
const histogram = monitorEventLoopDelay({ resolution: 20 });
histogram.enable();

afterAll(() => {
  histogram.disable();
  const maxMs = Math.round(histogram.max / 1e6);
  const file = expect.getState().testPath ?? 'unknown';
  if (process.env.ARCAL_LOOP_REPORT)
    appendFileSync(process.env.ARCAL_LOOP_REPORT, `${JSON.stringify({ file, maxMs })}\n`);
  if (maxMs > limitMs)
    throw new Error(
      `${file} blocked its event loop for ${maxMs} ms (limit ${limitMs} ms): yield between batches (await a macrotask) or compute in a child process`,
    );
});
