/** Redis connections for BullMQ, and the start-up check that Redis will never evict queue keys. */
import { Redis, type RedisOptions } from 'ioredis';

/**
 * `role: 'worker'` (blocking commands, subscribers): `maxRetriesPerRequest: null`, as BullMQ requires.
 * `role: 'producer'` (API): commands fail after a few retries so a request errors instead of hanging.
 */
export function createRedis(url: string, role: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    ...extra,
  });
}

/** Reads `maxmemory-policy` through INFO (CONFIG may be disabled on managed Redis). */
export async function evictionPolicy(redis: Redis): Promise<string> {
  const info = await redis.info('memory');
  const m = /maxmemory_policy:(\S+)/.exec(info);
  return m ? m[1]! : 'unknown';
}

/** Throws unless Redis runs with `maxmemory-policy noeviction`: with eviction, BullMQ can silently lose jobs. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const policy = await evictionPolicy(redis);
  if (policy !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is "${policy}"; BullMQ needs "noeviction" (set it in redis.conf or with: redis-cli config set maxmemory-policy noeviction)`,
    );
  }
}
