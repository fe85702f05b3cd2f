/**
 * Redis connections for BullMQ, and the start-up check that Redis will never evict queue keys.
 *
 * Every process that opens Redis (the API, the workers and their compute processes) reads where it is with
 * `redisConfigFromEnv` and opens it with `createRedis`, so that one function (`redisOptions`) decides the
 * ioredis options: a single server from `REDIS_URL`, or the primary of a Sentinel group (`REDIS_SENTINELS`,
 * `REDIS_SENTINEL_NAME`, `REDIS_SENTINEL_PASSWORD`), found again through the sentinels after a failover.
 */
import { Redis, type RedisOptions } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The port a sentinel listens on unless told otherwise (redis-sentinel's default). */
export const DEFAULT_SENTINEL_PORT = 26379;

export interface RedisSentinelConfig {
  /** Sentinels to ask for the group's primary; any one that answers is enough. */
  sentinels: Array<{ host: string; port: number }>;
  /** The group's name (`sentinel monitor <name> ...` in sentinel.conf). */
  name: string;
  /** The sentinels' own password (`requirepass` in sentinel.conf), when they have one. */
  password?: string;
}

export interface RedisConfig {
  /**
   * `redis[s]://[user:password@]host:port[/db]`. With `sentinel` set its host and port are not used (the
   * sentinels name the primary); its user, password, database number and TLS still apply to the primary.
   */
  url: string;
  sentinel?: RedisSentinelConfig;
}

/** One `host:port` of REDIS_SENTINELS (`[v6addr]:port` for IPv6; the port defaults to 26379). */
function sentinelAddress(entry: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::([^:]*))?$/.exec(entry);
  if (!m) throw new Error(`REDIS_SENTINELS: "${entry}" is not host:port`);
  const host = (m[1] ?? m[2])!;
  if (m[3] === undefined) return { host, port: DEFAULT_SENTINEL_PORT };
  const port = Number(m[3]);
  if (!/^\d+$/.test(m[3]) || port < 1 || port > 65535)
    throw new Error(`REDIS_SENTINELS: "${entry}" has no valid port (1-65535)`);
  return { host, port };
}

/**
 * Where Redis is, from REDIS_URL and the Sentinel variables. Throws with the variable's name when they are
 * malformed or only half given (a name without sentinels or the reverse), rather than silently falling back
 * to REDIS_URL's single server.
 */
export function redisConfigFromEnv(env: Record<string, string | undefined>): RedisConfig {
  const url = env.REDIS_URL || DEFAULT_REDIS_URL;
  const list = (env.REDIS_SENTINELS ?? '').trim();
  const name = (env.REDIS_SENTINEL_NAME ?? '').trim();
  const password = env.REDIS_SENTINEL_PASSWORD;
  if (!list) {
    if (name) throw new Error('REDIS_SENTINEL_NAME is set but REDIS_SENTINELS (host:port,host:port,...) is not');
    if (password) throw new Error('REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not');
    return { url };
  }
  if (!name) throw new Error('REDIS_SENTINELS is set but REDIS_SENTINEL_NAME (the master group name) is not');
  const entries = list.split(',').map((s) => s.trim());
  if (entries.some((e) => e === '')) throw new Error(`REDIS_SENTINELS has an empty entry: "${list}"`);
  return {
    url,
    sentinel: { sentinels: entries.map(sentinelAddress), name, ...(password ? { password } : {}) },
  };
}

/** The RedisConfig of a process's parsed configuration (its `redisUrl` and `redisSentinel` fields). */
export function redisConfigOf(c: { redisUrl: string; redisSentinel?: RedisSentinelConfig | undefined }): RedisConfig {
  return { url: c.redisUrl, ...(c.redisSentinel ? { sentinel: c.redisSentinel } : {}) };
}

/** A READONLY reply means this connection still talks to a primary that a failover turned into a replica. */
function reconnectOnReadonly(err: Error): 2 | false {
  // 2: reconnect (through the sentinels, to the new primary) and send the failed command again
  return err.message.startsWith('READONLY') ? 2 : false;
}

/**
 * The ioredis options of a connection (the URL is passed beside them, see `createRedis`).
 * `role: 'worker'` (blocking commands, subscribers): `maxRetriesPerRequest: null`, as BullMQ requires.
 * `role: 'producer'` (API): commands fail after a few retries so a request errors instead of hanging.
 * With Sentinel: the sentinels and the group's name, asked again for the primary at every reconnection; a
 * connection that a demoted primary answers READONLY reconnects.
 */
export function redisOptions(config: RedisConfig, role: 'worker' | 'producer', extra: RedisOptions = {}): RedisOptions {
  const sentinel: RedisOptions = config.sentinel
    ? {
        sentinels: config.sentinel.sentinels.map((s) => ({ ...s })),
        name: config.sentinel.name,
        ...(config.sentinel.password ? { sentinelPassword: config.sentinel.password } : {}),
        // No failoverDetector: its disconnect on +switch-master, landing while a connection is being made, ends that
        // connection for good (ioredis 5.11 gives up with "Connection is closed"), which the cluster test hit. A
        // dead primary closes the connections anyway, and a demoted one is told to close them by the sentinels.
        reconnectOnError: reconnectOnReadonly,
      }
    : {};
  return {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    ...sentinel,
    ...extra,
  };
}

/** Told once when a connection is lost (with the first error) and once when it is back. */
export type ConnectionWatch = (state: 'lost' | 'back', detail: string) => void;

/** The default watch: one readable line on stderr per change, naming the connection. */
export const stderrWatch =
  (label: string): ConnectionWatch =>
  (state, detail) =>
    process.stderr.write(
      `arcal: redis (${label}) ${state === 'lost' ? `connection lost: ${detail}; reconnecting` : 'connection back'}\n`,
    );

/**
 * Opens a connection; `target` is a RedisConfig or, for a single server, its URL. ioredis emits an `error` for every
 * failed reconnection attempt and, with no listener, prints each as "Unhandled error event"; here a listener turns
 * an outage into two calls of `watch` (lost, back). Commands that fail meanwhile still reject to their callers.
 */
export function createRedis(
  target: RedisConfig | string,
  role: 'worker' | 'producer',
  extra: RedisOptions = {},
  watch: ConnectionWatch = stderrWatch(extra.connectionName ?? role),
): Redis {
  const config = typeof target === 'string' ? { url: target } : target;
  const redis = new Redis(config.url, redisOptions(config, role, extra));
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    watch('lost', err.message);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    watch('back', '');
  });
  return redis;
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
