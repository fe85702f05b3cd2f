/**
 * Two rate limits, both counted in Redis so that every API process shares them:
 *
 * - by client address, before authentication (every rate-limited route): credentials a client makes up
 *   cost it the same as real ones, so a new random token per request cannot escape the limit. The address is
 *   the socket's peer, or with TRUST_PROXY the client that the trusted proxies name in X-Forwarded-For
 *   (Fastify's trustProxy); without TRUST_PROXY that header is ignored, so it cannot be forged.
 * - by project, after authentication (/v1 and the queue board): a project's keys and sessions share one budget
 *   wherever its clients run.
 *
 * When Redis cannot count, the limits fail closed: the outage guard answers 503 first (see outage.ts).
 */
import { ArcalError } from '@arcal/contracts';
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';

export interface RateLimitConfig {
  /** Requests per project per window. */
  max: number;
  windowMs: number;
  /** Requests per client address per window [5 × max]. */
  addressMax?: number;
}

/** How many requests one address may make per window. */
export const addressLimit = (c: RateLimitConfig) => c.addressMax ?? 5 * c.max;

/**
 * The pre-authentication key: the client's address (see the module comment for TRUST_PROXY). An IPv6 client
 * usually holds a whole /64, so the key is its /64 (else each of its addresses would get a budget of its own);
 * an IPv4-mapped IPv6 address counts as the IPv4 address.
 */
export const addressKey = (request: FastifyRequest) => `ip:${normalizeIP(request.ip, 64)}`;

const windowText = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} minute(s)` : `${Math.ceil(ms / 1000)} s`);

/**
 * The per-project limit, to run right after authentication. One MULTI per request: the counter is created with
 * the window as its expiry when absent, then incremented, so a window starts at a project's first request.
 */
export function projectRateLimiter(redis: Redis, config: RateLimitConfig, prefix: string) {
  return async function limitProject(request: FastifyRequest, reply?: FastifyReply): Promise<void> {
    const project = request.principal?.projectId;
    if (!project) return;
    const key = `${prefix}:ratelimit:project:${project}`;
    const res = await redis.multi().set(key, '0', 'PX', config.windowMs, 'NX').incr(key).pttl(key).exec();
    if (!res) throw new Error('rate limit transaction was discarded');
    for (const [err] of res) if (err) throw err;
    const count = Number(res[1]![1]);
    const ttl = Math.max(0, Number(res[2]![1]));
    const resetSeconds = Math.ceil(ttl / 1000);
    reply
      ?.header('x-ratelimit-limit', config.max)
      .header('x-ratelimit-remaining', Math.max(0, config.max - count))
      .header('x-ratelimit-reset', resetSeconds);
    if (count > config.max) {
      throw Object.assign(
        new ArcalError(
          'RATE_LIMITED',
          `this project's rate limit of ${config.max} requests per ${windowText(config.windowMs)} is exceeded; retry in ${resetSeconds} s`,
        ),
        { retryAfterSeconds: resetSeconds },
      );
    }
  };
}
