/** Health, readiness and Prometheus metrics; no authentication, no rate limit. */
import type { Db, JobDispatcher, Repositories } from '@arcal/db';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { gauge, type Histogram, jobDurationHistogram } from '../plugins/prometheus.ts';

export async function opsRoutes(
  app: FastifyInstance,
  deps: { db: Db; redis: Redis; dispatcher: JobDispatcher; repos: Repositories; http: Histogram },
) {
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
      schema: { summary: 'Prometheus metrics', tags: ['ops'], produces: ['text/plain'], response: { 200: T.String() } },
    },
    async (_request, reply) => {
      const depths = await deps.dispatcher.depths();
      const depthRows: Array<[Record<string, string>, number]> = [];
      for (const [queue, counts] of Object.entries(depths)) {
        for (const [state, n] of Object.entries(counts)) depthRows.push([{ queue, state }, n]);
      }
      const byStatus = await deps.repos.experiments.countByStatus();
      const durations = await deps.repos.jobs.recentDurations(3600_000);
      const body = [
        gauge('arcal_queue_jobs', 'BullMQ jobs per queue and state', depthRows),
        gauge(
          'arcal_experiments',
          'Experiments per status',
          byStatus.map((r) => [{ status: r.status }, r._count._all]),
        ),
        jobDurationHistogram(durations),
        deps.http.render(),
      ].join('\n\n');
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return `${body}\n`;
    },
  );
}
