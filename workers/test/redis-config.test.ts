/** Workers and their compute processes read Redis's whereabouts through @arcal/db's one parser. */
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, sandboxConfig } from '../src/config.ts';

describe('worker config: Redis', () => {
  it('takes REDIS_SENTINELS and REDIS_SENTINEL_NAME in the main process and the compute processes alike', () => {
    const env = { REDIS_SENTINELS: 'a:1,b', REDIS_SENTINEL_NAME: 'arcal', REDIS_SENTINEL_PASSWORD: 'pw' };
    const expected = {
      sentinels: [
        { host: 'a', port: 1 },
        { host: 'b', port: 26379 },
      ],
      name: 'arcal',
      password: 'pw',
    };
    expect(loadWorkerConfig([], env).redisSentinel).toEqual(expected);
    expect(sandboxConfig(env).redisSentinel).toEqual(expected);
    expect(loadWorkerConfig([], {})).not.toHaveProperty('redisSentinel');
    expect(() => sandboxConfig({ REDIS_SENTINEL_NAME: 'arcal' })).toThrow(/REDIS_SENTINELS/);
  });
});
