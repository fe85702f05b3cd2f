/**
 * The shared Redis for the infra tests, under a key prefix of their own (deleted afterwards). Skips loudly when
 * Redis does not answer, and fails instead when REQUIRE_INTEGRATION=1.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  prefix: string;
  cleanup(): Promise<void>;
}

export async function testRedis(name: string): Promise<TestRedis | undefined> {
  const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const msg = `${name} needs Redis at ${url}: ${(e as Error).message || 'unreachable'}`;
    if (process.env.REQUIRE_INTEGRATION === '1')
      throw new Error(`${msg} (REQUIRE_INTEGRATION=1, so this is a failure)`);
    console.warn(`\n*** SKIPPING ${name}: ${msg} ***\n`);
    return undefined;
  } finally {
    probe.disconnect();
  }
  const prefix = `arcal-t-${name.replace(/[^a-z0-9]+/gi, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return {
    url,
    prefix,
    async cleanup() {
      const r = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await r.del(...keys);
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    },
  };
}
