/**
 * Guards every test file against blocking its event loop: vitest's worker answers its parent over the same
 * loop, and a file that computes for a minute without yielding fails the whole run with an RPC timeout
 * (`Timeout calling "onTaskUpdate"`; on a busy machine sooner). The longest stall of the file
 * (test/support/loop-stall.ts) must stay under ARCAL_MAX_LOOP_BLOCK_MS (default 8000);
 * ARCAL_LOOP_REPORT=<file> appends one JSON line per file with its longest stall.
 */
import { appendFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { startStallMeter } from '../support/loop-stall.ts';

const limitMs = Number(process.env.ARCAL_MAX_LOOP_BLOCK_MS ?? 8000);
const meter = startStallMeter();

afterAll(() => {
  const worst = Math.round(meter.maxMs());
  meter.stop();
  const file = expect.getState().testPath ?? 'unknown';
  if (process.env.ARCAL_LOOP_REPORT)
    appendFileSync(process.env.ARCAL_LOOP_REPORT, `${JSON.stringify({ file, maxMs: worst })}\n`);
  if (worst > limitMs)
    throw new Error(
      `${file} blocked its event loop for ${worst} ms (limit ${limitMs} ms): yield between batches (await a macrotask) or compute in a child process`,
    );
});
