/** Health, readiness and Prometheus metrics; no authentication, no rate limit. */
import { Health, Readiness, ref } from '@arcal/contracts';
import type { Db } from '@arcal/db';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiMetrics } from '../plugins/prometheus.ts';
import { rawResponse, type TypeBoxProvider } from '../schemas.ts';

export async function opsRoutes(app: FastifyInstance, deps: { db: Db; redis: Redis; metrics: ApiMetrics }) {
  const open = { rateLimit: false };
  const api = app.withTypeProvider<TypeBoxProvider>();
  api.get(
    '/healthz',
    {
      config: open,
      schema: { operationId: 'health', summary: 'Liveness', tags: ['ops'], response: { 200: ref(Health) } },
    },
    async () => ({ ok: true }),
  );

  api.get(
    '/readyz',
    {
      config: open,
      schema: {
        operationId: 'ready',
        summary: 'Readiness: PostgreSQL and Redis answer',
        tags: ['ops'],
        response: {
          200: ref(Readiness),
          503: ref(Readiness),
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

  api.get(
    '/metrics',
    {
      config: open,
      schema: {
        operationId: 'metrics',
        summary: 'Prometheus metrics, aggregate over all projects',
        tags: ['ops'],
        response: { 200: rawResponse('text/plain', 'Prometheus text exposition format') },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      reply.type(deps.metrics.registry.contentType);
      return body;
    },
  );
}
