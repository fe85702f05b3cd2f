/**
 * PostgreSQL or Redis down is the service's fault, not the client's, and it passes: such failures are answered
 * 503 `UNAVAILABLE` with `Retry-After`, never 500. Two parts:
 *
 * - `outageOf(err)` recognises a failure to reach either store (socket errors, pg's and Prisma's connection
 *   errors, PostgreSQL's shutdown and connection SQLSTATEs, ioredis giving up on a command), wherever in a
 *   request it surfaces; the error handler turns those into 503.
 * - While the API's Redis connection is not ready, every rate-limited route is refused at once, before the
 *   rate limiter would queue its command: the limiter fails closed (it cannot count, so it does not admit),
 *   and the client waits for `Retry-After` instead of for ioredis's reconnection attempts.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

/** Seconds a client is asked to wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * What could not be reached. A bare socket error does not say which server it came from: the AWS SDK's errors
 * (with `$metadata`) are the artifact store's; others come from pg (ioredis reports its own differently).
 */
export type Store = 'PostgreSQL' | 'Redis' | 'PostgreSQL or Redis' | 'The artifact store';

/** Thrown where the API knows up front that a store is unavailable. */
export class UnavailableError extends Error {
  constructor(readonly store: Store) {
    super(`${store} is unavailable; retry in a few seconds`);
    this.name = 'UnavailableError';
  }
}

const SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
/** Prisma: cannot reach, timed out, server closed the connection, pool timeout. */
const PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Prisma's driver-adapter error kinds that mean the database is not there. */
const ADAPTER = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** SQLSTATE: connection exceptions (08…), too many connections, server shutting down or starting up. */
const SQLSTATE = /^(08[0-9A-Z]{3}|53300|57P0[1-3])$/;
const PG_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Can't reach database server/;
const REDIS_MESSAGE =
  /^Connection is closed|Stream isn't writeable|Reached the max retries per request limit|^Command timed out/;

/** Which store a failure says is unreachable, or null when it is some other error. */
export function outageOf(err: unknown): Store | null {
  const seen = new Set<unknown>();
  const todo: unknown[] = [err];
  let aws = false;
  // Errors wrap errors (cause, Prisma's meta, AggregateError's list); a bounded walk finds the socket error.
  while (todo.length && seen.size < 32) {
    const e = todo.pop();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const x = e as Record<string, any>;
    if (x.$metadata !== undefined) aws = true;
    if (e instanceof UnavailableError) return e.store;
    if (x.name === 'MaxRetriesPerRequestError' || REDIS_MESSAGE.test(String(x.message ?? ''))) return 'Redis';
    if (typeof x.code === 'string' && (PRISMA.has(x.code) || SQLSTATE.test(x.code))) return 'PostgreSQL';
    if (typeof x.kind === 'string' && ADAPTER.has(x.kind)) return 'PostgreSQL';
    if (typeof x.originalCode === 'string' && SQLSTATE.test(x.originalCode)) return 'PostgreSQL';
    if (PG_MESSAGE.test(String(x.message ?? ''))) return 'PostgreSQL';
    if (typeof x.code === 'string' && SOCKET.has(x.code)) return aws ? 'The artifact store' : 'PostgreSQL or Redis';
    todo.push(x.cause, x.meta?.driverAdapterError, x.meta?.driverAdapterError?.cause);
    if (Array.isArray(x.errors)) todo.push(...x.errors.slice(0, 8));
  }
  return null;
}

/** Refuses rate-limited routes at once while the API's Redis connection is down (see the module comment). */
export function registerOutageGuard(app: FastifyInstance, redis: Redis): void {
  // Until the first connection is made, commands wait for it (start-up); after that, not ready means lost.
  let connectedOnce = redis.status === 'ready';
  redis.on('ready', () => {
    connectedOnce = true;
    app.log.info('Redis connected');
  });
  // ioredis reports each failed reconnection as an 'error' event; logged here rather than printed unstructured.
  redis.on('error', (err) => app.log.warn({ err }, 'Redis connection error'));
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config as { rateLimit?: unknown } | undefined;
    if (!request.routeOptions.url || config?.rateLimit === false) return;
    if (redis.status === 'ready' || (!connectedOnce && redis.status !== 'end')) return;
    throw new UnavailableError('Redis');
  });
}
