/** Where Redis is (REDIS_URL or a Sentinel group) and the ioredis options every process opens it with. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_URL, redisConfigFromEnv, redisConfigOf, redisOptions } from '../src/redis.ts';

describe('redisConfigFromEnv', () => {
  it('is a single server from REDIS_URL, or the local default, when no sentinel is named', () => {
    expect(redisConfigFromEnv({})).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(DEFAULT_REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(redisConfigFromEnv({ REDIS_URL: 'redis://:pw@cache:6380/2' })).toEqual({ url: 'redis://:pw@cache:6380/2' });
  });

  it('reads the sentinels, the group name and the sentinels’ password', () => {
    const c = redisConfigFromEnv({
      REDIS_URL: 'redis://:primary-pw@ignored:1/3',
      REDIS_SENTINELS: ' s1:26379, 10.0.0.7:26380 ,[fd00::5]:5000,s4 ',
      REDIS_SENTINEL_NAME: 'arcal',
      REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
    });
    expect(c).toEqual({
      url: 'redis://:primary-pw@ignored:1/3',
      sentinel: {
        sentinels: [
          { host: 's1', port: 26379 },
          { host: '10.0.0.7', port: 26380 },
          { host: 'fd00::5', port: 5000 },
          // no port: redis-sentinel's default
          { host: 's4', port: 26379 },
        ],
        name: 'arcal',
        password: 'sentinel-pw',
      },
    });
  });

  it.each([
    [{ REDIS_SENTINELS: 's1:26379' }, /REDIS_SENTINEL_NAME/],
    [{ REDIS_SENTINEL_NAME: 'arcal' }, /REDIS_SENTINELS/],
    [{ REDIS_SENTINEL_PASSWORD: 'x' }, /REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS/],
    [{ REDIS_SENTINELS: 's1:26379,,s2:26379', REDIS_SENTINEL_NAME: 'a' }, /empty entry/],
    [{ REDIS_SENTINELS: 's1:', REDIS_SENTINEL_NAME: 'a' }, /"s1:" has no valid port/],
    [{ REDIS_SENTINELS: 's1:0', REDIS_SENTINEL_NAME: 'a' }, /"s1:0" has no valid port/],
    [{ REDIS_SENTINELS: 's1:65536', REDIS_SENTINEL_NAME: 'a' }, /"s1:65536" has no valid port/],
    [{ REDIS_SENTINELS: 's1:26379x', REDIS_SENTINEL_NAME: 'a' }, /no valid port/],
    [{ REDIS_SENTINELS: 's1:2:3', REDIS_SENTINEL_NAME: 'a' }, /"s1:2:3" is not host:port/],
    [{ REDIS_SENTINELS: 'redis://s1:26379', REDIS_SENTINEL_NAME: 'a' }, /is not host:port/],
    [{ REDIS_SENTINELS: 's1 s2', REDIS_SENTINEL_NAME: 'a' }, /"s1 s2" is not host:port/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => redisConfigFromEnv(env)).toThrow(message);
  });
});

describe('redisOptions', () => {
  const sentinel = { sentinels: [{ host: 's1', port: 26379 }], name: 'arcal' };

  it('a single server: BullMQ workers retry forever, producers give up after 3 retries', () => {
    expect(redisOptions({ url: 'redis://h:1' }, 'worker')).toEqual({
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      lazyConnect: false,
    });
    expect(redisOptions({ url: 'redis://h:1' }, 'producer', { commandTimeout: 500 })).toEqual({
      maxRetriesPerRequest: 3,
      enableReadyCheck: true,
      lazyConnect: false,
      commandTimeout: 500,
    });
  });

  it('Sentinel: the sentinels and group name, following failovers, for either role', () => {
    for (const role of ['worker', 'producer'] as const) {
      const o = redisOptions({ url: 'redis://h:1', sentinel: { ...sentinel, password: 'pw' } }, role);
      expect(o.sentinels).toEqual([{ host: 's1', port: 26379 }]);
      expect(o.name).toBe('arcal');
      expect(o.sentinelPassword).toBe('pw');
      // off: ioredis's detector can end a connection for good when it fires while that connection is being made
      expect(o.failoverDetector).toBeUndefined();
      expect(o.maxRetriesPerRequest).toBe(role === 'worker' ? null : 3);
    }
    expect(redisOptions({ url: 'redis://h:1', sentinel }, 'worker')).not.toHaveProperty('sentinelPassword');
  });

  it('Sentinel: a READONLY reply (a demoted primary) reconnects and resends; other errors do not', () => {
    const o = redisOptions({ url: 'redis://h:1', sentinel }, 'worker');
    const reconnect = o.reconnectOnError as (e: Error) => boolean | 1 | 2;
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnect(new Error('ERR wrong number of arguments'))).toBe(false);
    expect(redisOptions({ url: 'redis://h:1' }, 'worker')).not.toHaveProperty('reconnectOnError');
  });

  it('redisConfigOf builds the config from a parsed process configuration', () => {
    expect(redisConfigOf({ redisUrl: 'redis://h:1' })).toEqual({ url: 'redis://h:1' });
    expect(redisConfigOf({ redisUrl: 'redis://h:1', redisSentinel: sentinel })).toEqual({
      url: 'redis://h:1',
      sentinel,
    });
  });
});
