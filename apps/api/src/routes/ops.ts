/** Health, readiness and Prometheus metrics; no authentication, no rate limit. */
import type { Db } from '@arcal/db';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiMetrics } from '../plugins/prometheus.ts';

export async function opsRoutes(app: FastifyInstance, deps: { db: Db; redis: Redis; metrics: ApiMetrics }) {
  const open = { rateLimit: false };
  app.get(
    '/healthz',
    { config: open, schema: { summary: 'Liveness', tags: ['ops'], response: { 200: T.Object({ ok: T.Boolean() }) } } },
    async () => ({ ok: true }),
  );

  app.get(
    '/readyz',
    {
      config: open,
      schema: {
        summary: 'Readiness: PostgreSQL and Redis answer',
        tags: ['ops'],
        response: {
          200: T.Object({ ok: T.Boolean(), postgres: T.Boolean(), redis: T.Boolean() }),
          503: T.Object({ ok: T.Boolean(), postgres: T.Boolean(), redis: T.Boolean() }),
        },
      },
    },
    async (_request, reply) => {
      const timeout = <X>(p: Promise<X>) =>
        Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000))]);
      const postgres = await timeout(deps.db.$queryRaw`select 1`).then(
        () => true,
        () => false,
      );
      const redis = await timeout(deps.redis.ping()).then(
        (r) => r === 'PONG',
        () => false,
      );
      const ok = postgres && redis;
      reply.status(ok ? 200 : 503);
      return { ok, postgres, redis };
    },
  );

  app.get(
    '/metrics',
    {
      config: open,
      schema: {
        summary: 'Prometheus metrics, aggregate over all projects',
        tags: ['ops'],
        produces: ['text/plain'],
        response: { 200: T.String() },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      reply.type(deps.metrics.registry.contentType);
      return body;
    },
  );
}
