/**
 * Real PostgreSQL and Redis for integration tests (never mocks). Each test file gets its own database
 * (created, migrated, dropped) and its own Redis key prefix.
 *
 * Where from: DATABASE_URL / REDIS_URL when set; else the local servers (127.0.0.1:5432, :6379) when
 * they answer; else containers through `testcontainers` when that package and a container runtime are
 * present; else the tests skip with a loud reason — and fail instead when REQUIRE_INTEGRATION=1.
 *
 * Redis must run with `maxmemory-policy noeviction` (BullMQ requirement). When it does not, this
 * helper sets it with CONFIG SET (test servers only) and says so on stderr.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DEFAULT_DATABASE_URL, migrate } from './migrate.ts';
import { evictionPolicy } from './redis.ts';

export interface IntegrationEnv {
  /** URL of this file's own, freshly migrated database. */
  databaseUrl: string;
  redisUrl: string;
  /** Redis key prefix for BullMQ and events, unique to this file. */
  prefix: string;
  /** Drops the database and deletes the prefix's Redis keys. */
  cleanup(): Promise<void>;
}

export type IntegrationResult = { available: true; env: IntegrationEnv } | { available: false; reason: string };

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

async function pgReachable(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('select 1');
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

async function redisReachable(url: string): Promise<string | null> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  try {
    await r.connect();
    await r.ping();
    return null;
  } catch (e) {
    return (e as Error).message || 'unreachable';
  } finally {
    r.disconnect();
  }
}

const containerRuntime = () =>
  Boolean(process.env.DOCKER_HOST) ||
  existsSync('/var/run/docker.sock') ||
  existsSync(`${process.env.XDG_RUNTIME_DIR ?? '/run/user/0'}/podman/podman.sock`);

/** Starts postgres:15 and redis:7 with testcontainers; null when the package or a runtime is missing. */
async function fromContainers(): Promise<{ databaseUrl: string; redisUrl: string; stop(): Promise<void> } | string> {
  if (!containerRuntime()) return 'no container runtime (no DOCKER_HOST, no docker or podman socket)';
  let tc: any;
  try {
    tc = await import(/* @vite-ignore */ ['test', 'containers'].join(''));
  } catch {
    return 'a container runtime exists but the testcontainers package is not installed';
  }
  const pgC = await new tc.GenericContainer('postgres:15')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(tc.Wait.forLogMessage(/ready to accept connections/, 2))
    .start();
  const redisC = await new tc.GenericContainer('redis:7')
    .withCommand(['redis-server', '--maxmemory-policy', 'noeviction'])
    .withExposedPorts(6379)
    .start();
  return {
    databaseUrl: `postgresql://postgres@${pgC.getHost()}:${pgC.getMappedPort(5432)}/postgres`,
    redisUrl: `redis://${redisC.getHost()}:${redisC.getMappedPort(6379)}`,
    async stop() {
      await Promise.all([pgC.stop(), redisC.stop()]);
    },
  };
}

function unavailable(reason: string): IntegrationResult {
  const msg = `integration tests need PostgreSQL and Redis: ${reason}`;
  if (process.env.REQUIRE_INTEGRATION === '1') throw new Error(`${msg} (REQUIRE_INTEGRATION=1, so this is a failure)`);
  console.warn(`\n*** SKIPPING integration tests: ${msg}. Set DATABASE_URL/REDIS_URL or start local servers. ***\n`);
  return { available: false, reason: msg };
}

/** Prepares a private database and Redis prefix for the test file called `name`. */
export async function integrationEnv(name: string): Promise<IntegrationResult> {
  let serverUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  let redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  let stopContainers: (() => Promise<void>) | undefined;
  const pgErr = await pgReachable(serverUrl);
  const redisErr = await redisReachable(redisUrl);
  if (pgErr || redisErr) {
    const explicit = Boolean(process.env.DATABASE_URL || process.env.REDIS_URL);
    const c = explicit ? 'DATABASE_URL/REDIS_URL are set but do not answer' : await fromContainers();
    if (typeof c === 'string')
      return unavailable(
        `${pgErr ? `PostgreSQL at ${serverUrl}: ${pgErr}; ` : ''}${redisErr ? `Redis at ${redisUrl}: ${redisErr}; ` : ''}${c}`,
      );
    serverUrl = c.databaseUrl;
    redisUrl = c.redisUrl;
    stopContainers = c.stop;
  }

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    if ((await evictionPolicy(redis)) !== 'noeviction') {
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      console.warn(`[arcal tests] set maxmemory-policy noeviction on the Redis at ${redisUrl} (BullMQ requires it)`);
    }
  } finally {
    redis.disconnect();
  }

  const tag =
    `${name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(3).toString('hex')}`.slice(0, 50);
  const dbName = `arcal_t_${tag}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  await migrate(databaseUrl);
  const prefix = `arcal-t-${tag}`;

  return {
    available: true,
    env: {
      databaseUrl,
      redisUrl,
      prefix,
      async cleanup() {
        const a = new pg.Client({ connectionString: serverUrl });
        await a.connect();
        try {
          await a.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
        } finally {
          await a.end();
        }
        const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
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
        await stopContainers?.();
      },
    },
  };
}
