/** The API reads Redis's whereabouts (single server or Sentinel group) through @arcal/db's one parser. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

describe('API config: Redis', () => {
  it('takes REDIS_SENTINELS and REDIS_SENTINEL_NAME, and refuses half a Sentinel setting', () => {
    const c = loadConfig({ REDIS_SENTINELS: '10.0.0.2:26379,10.0.0.3:26379', REDIS_SENTINEL_NAME: 'arcal' });
    expect(c.redisSentinel).toEqual({
      sentinels: [
        { host: '10.0.0.2', port: 26379 },
        { host: '10.0.0.3', port: 26379 },
      ],
      name: 'arcal',
    });
    expect(loadConfig({ REDIS_URL: 'redis://r:6379' })).not.toHaveProperty('redisSentinel');
    expect(() => loadConfig({ REDIS_SENTINELS: '10.0.0.2:26379' })).toThrow(/REDIS_SENTINEL_NAME/);
  });
});
