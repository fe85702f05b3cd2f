/**
 * An outage of Redis reads as two lines, not one per reconnection attempt: createRedis's listener tells its watch
 * once when the connection is lost and once when it is back, and ioredis never prints "Unhandled error event".
 * Against a redis-server of the test's own (stopped and started again), never the shared one.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startRedis } from '../../../test/support/servers.ts';
import { createRedis } from '../src/redis.ts';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedisServer && process.env.REQUIRE_INTEGRATION === '1')
  throw new Error('redis-server is not installed (REQUIRE_INTEGRATION=1, so this is a failure)');

const until = async (what: string, ok: () => boolean, ms = 20_000) => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(!hasRedisServer)('a Redis connection through an outage', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('tells its watch once when lost and once when back, and ioredis prints nothing', { timeout: 30_000 }, async () => {
    const server = await startRedis();
    cleanups.push(() => server.destroy());
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    cleanups.push(() => printed.mockRestore());
    const calls: Array<[string, string]> = [];
    let attempts = 0;
    const redis = createRedis(server.url, 'producer', { retryStrategy: () => 50 }, (state, detail) => {
      calls.push([state, detail]);
    });
    cleanups.push(() => redis.disconnect());
    redis.on('reconnecting', () => attempts++);
    expect(await redis.ping()).toBe('PONG');

    await server.stop();
    // many reconnection attempts fail (every 50 ms) while the server is down; no listener of the test's own
    await until('several failed reconnections', () => attempts >= 5);
    expect(calls.map((c) => c[0])).toEqual(['lost']);
    await server.start();
    await until('the connection back', () => calls.length === 2);
    expect(calls.map((c) => c[0])).toEqual(['lost', 'back']);
    expect(await redis.ping()).toBe('PONG');
    expect(printed.mock.calls.filter((c) => String(c[0]).includes('Unhandled error event'))).toEqual([]);
  });
});
