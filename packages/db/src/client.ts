/**
 * The Prisma client over `@prisma/adapter-pg` (Prisma 7 has no built-in engine at run time), plus the
 * `pg` pool under it. Processes create one with `createDb(url)` at their entry point and pass it down.
 *
 * Repositories use Prisma for everything except a few statements on the hot paths (authentication,
 * submission, job start and completion), which are hand-written SQL run directly on the same pool as
 * named prepared statements (see repositories/sql.ts): Prisma's per-query work (query plan, parameter
 * and result conversion) costs several times the driver's own.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { poolConfigFromUrl } from './schema-engine.ts';

export type Db = PrismaClient & {
  /** The connection pool that Prisma's adapter uses (closed by `$disconnect`). */
  readonly pool: pg.Pool;
};

export interface DbOptions {
  /** Connections in the pool [10]. */
  max?: number;
  /**
   * Rides out database outages of up to this many milliseconds [0: none]: a connection attempt or a single
   * statement that fails because the server is unreachable, shutting down or starting up is tried again with
   * backoff until it succeeds or this much time has passed. Only for callers whose statements may run twice
   * (the workers: every write of theirs is an idempotent upsert, a compare-and-set or a log line): a statement
   * whose connection broke after the server committed it but before the reply arrived runs again.
   * Multi-statement transactions are retried only at their connection attempt.
   */
  retryMs?: number;
  /** Told about each retry (for logs). */
  onRetry?: (err: Error, attempt: number, waitedMs: number) => void;
}

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Errors that say the server could not be reached or went away, not that a statement was wrong: network errors,
 * SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash shutdown, cannot connect now) and the
 * driver's own "Connection terminated" messages.
 */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (CONNECTION_ERRNOS.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code)) return true;
  // net.connect to several addresses reports an AggregateError of per-address errors
  if (Array.isArray(e.errors) && e.errors.length && e.errors.every(isConnectionError)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|terminating connection|the database system is (starting up|shutting down)|Client has encountered a connection error/i.test(
    message,
  );
}

/** Calls `f` until it succeeds, retrying connection errors with backoff (0.2 s doubling to 2 s) for up to `ms`. */
export async function retryConnection<T>(f: () => Promise<T>, ms: number, onRetry?: DbOptions['onRetry']): Promise<T> {
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const waited = Date.now() - t0;
      if (!isConnectionError(err) || waited >= ms) throw err;
      onRetry?.(err as Error, attempt, waited);
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * 2 ** (attempt - 1), Math.max(1, ms - waited))));
    }
  }
}

export function createDb(databaseUrl: string, opts: DbOptions = {}): Db {
  const pool = new pg.Pool({ ...poolConfigFromUrl(databaseUrl), max: opts.max ?? 10 });
  // An idle connection that the server closes (restart, failover) is dropped from the pool and reported here;
  // without a listener the pool's 'error' event would end the process.
  pool.on('error', () => {});
  const retryMs = opts.retryMs ?? 0;
  if (retryMs > 0) {
    // Only the promise forms are wrapped: pool.query itself checks out a client through connect's callback
    // form, so a statement's retries are not nested inside connection retries.
    const connect = pool.connect.bind(pool) as (...a: unknown[]) => unknown;
    const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
    Object.assign(pool, {
      connect: (...a: unknown[]) =>
        typeof a[0] === 'function'
          ? connect(...a)
          : retryConnection(() => connect() as Promise<pg.PoolClient>, retryMs, opts.onRetry),
      query: (...a: unknown[]) =>
        typeof a.at(-1) === 'function'
          ? query(...a)
          : retryConnection(() => query(...a) as Promise<unknown>, retryMs, opts.onRetry),
    });
  }
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  return Object.assign(client, { pool });
}
