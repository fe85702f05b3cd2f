/**
 * buildApp(config, deps): the whole HTTP API as an un-listened Fastify instance (tests call inject()).
 * It validates, records, enqueues and reports; it never imports tfjs or @arcal/core training code.
 */
import { randomUUID } from 'node:crypto';
import { ArcalError } from '@arcal/contracts';
import type { Db, EventPublisher, EventSubscriber, JobDispatcher, Repositories } from '@arcal/db';
import type { ArtifactStore } from '@arcal/storage';
import { webUi } from '@arcal/web';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiConfig } from './config.ts';
import { authenticator } from './plugins/auth.ts';
import { registerErrorHandling, sendError } from './plugins/errors.ts';
import { registerInputGuard } from './plugins/input-guard.ts';
import { registerOutageGuard } from './plugins/outage.ts';
import { createApiMetrics, registerMetrics } from './plugins/prometheus.ts';
import { queueAdmin } from './plugins/queue-admin.ts';
import { addressKey, addressLimit, projectRateLimiter } from './plugins/rate-limit.ts';
import { experimentRoutes } from './routes/experiments.ts';
import { opsRoutes } from './routes/ops.ts';
import { sessionRoutes } from './routes/session.ts';
import { studyRoutes } from './routes/studies.ts';
import { componentName, registerSchemas } from './schemas.ts';
import { ExperimentsService } from './services/experiments.service.ts';
import { StudiesService } from './services/studies.service.ts';

export interface ApiDeps {
  db: Db;
  repos: Repositories;
  /** Commands (rate-limit counters, readiness). */
  redis: Redis;
  dispatcher: JobDispatcher;
  events: EventPublisher;
  /** On its own connection (a subscribed connection cannot run commands). */
  subscriber: EventSubscriber;
  /** The artifact store (local folder or S3) that downloads and deletions go through. */
  store: ArtifactStore;
}

export async function buildApp(
  config: ApiConfig,
  deps: ApiDeps,
  opts: { logger?: boolean | object } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    // A URL whose percent-escapes do not decode (`%zz`, `%ED%A0%80`) gets the usual error shape.
    frameworkErrors: (err, request, reply) =>
      sendError(reply, request, 400, {
        code: 'INVALID_INPUT',
        message: err.code === 'FST_ERR_BAD_URL' ? 'the URL has a malformed percent-encoding' : 'the request is invalid',
      }),
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false } },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerErrorHandling(app);
  registerInputGuard(app);
  registerSchemas(app);
  const metrics = createApiMetrics({
    queueDepths: () => deps.dispatcher.depths(),
    experimentsByStatus: async () =>
      (await deps.repos.experiments.countByStatus()).map((r) => ({ status: r.status, count: r._count._all })),
    onError: (err, source) => app.log.warn({ err }, `metrics: could not read ${source}`),
  });
  registerMetrics(app, metrics);

  await app.register(swagger, {
    // Shared schemas keep their `$id` as their component name (Experiment, Study, Problem, …).
    refResolver: { buildLocalReference: componentName },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'arcal',
        version: '1',
        description: 'Calibration vs adversarial robustness experiments (AR-AdaLS) as a service.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key from `arcal keys create`' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'arcal_session',
            description: 'From POST /v1/session; writes need x-csrf-token',
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(cookie);
  registerOutageGuard(app, deps.redis);
  await app.register(rateLimit, {
    global: true,
    max: addressLimit(config.rateLimit),
    timeWindow: config.rateLimit.windowMs,
    redis: deps.redis,
    nameSpace: `${config.queuePrefix}:ratelimit:`,
    keyGenerator: addressKey,
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(
        new ArcalError(
          'RATE_LIMITED',
          `rate limit of ${ctx.max} requests per ${ctx.after} from this address exceeded; retry later`,
        ),
        { statusCode: 429 },
      ),
  });

  const service = new ExperimentsService(config, deps.repos, deps.dispatcher, deps.events, deps.store);
  await app.register(opsRoutes, { db: deps.db, redis: deps.redis, metrics });
  await app.register(sessionRoutes, {
    projects: deps.repos.projects,
    ttlMs: config.sessionTtlMs,
    secure: config.secureCookies,
  });
  const identify = authenticator(deps.repos.projects);
  const limitProject = projectRateLimiter(deps.redis, config.rateLimit, config.queuePrefix);
  const authenticate = async (request: FastifyRequest, reply?: FastifyReply) => {
    await identify(request);
    await limitProject(request, reply);
  };
  await app.register(experimentRoutes, {
    service,
    repos: deps.repos,
    subscriber: deps.subscriber,
    authenticate,
    store: deps.store,
    presign: config.artifactPresign,
  });
  await app.register(studyRoutes, {
    studies: new StudiesService(config, deps.repos, deps.dispatcher, service),
    repos: deps.repos,
    authenticate,
  });
  // bull-board at /admin/queues (read-only, same authentication as /v1; hidden from the OpenAPI document).
  await app.register(queueAdmin, { queues: Object.values(deps.dispatcher.queues), authenticate });
  // The dashboard's static files at /ui (hidden from the OpenAPI document).
  await app.register(webUi);
  return app;
}
