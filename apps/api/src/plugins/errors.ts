/**
 * One error shape for every failure: `{ code, message, details, requestId }`. ArcalError keeps its
 * code and status; Fastify's own client errors keep their 4xx status; PostgreSQL or Redis out of reach is a
 * 503 with `Retry-After`; anything else is a 500 with the request id and no stack trace (the stack goes to
 * the log).
 */
import { isArcalError } from '@arcal/contracts';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { outageOf, RETRY_AFTER_SECONDS } from './outage.ts';

export function sendError(reply: FastifyReply, request: FastifyRequest, status: number, body: Record<string, unknown>) {
  return reply
    .status(status)
    .type('application/json')
    .send({ details: [], ...body, requestId: request.id });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { estimate?: unknown }, request, reply) => {
    if (isArcalError(err)) {
      const estimate = (err as { estimate?: unknown }).estimate;
      const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      return sendError(reply, request, err.status, {
        code: err.code,
        message: err.message,
        details: err.details,
        ...(estimate ? { estimate } : {}),
      });
    }
    if (err.validation) {
      const details = err.validation.map((v) => ({
        path: [err.validationContext, ...(v.instancePath || '').split('/').filter(Boolean)].filter(Boolean).join('.'),
        message: v.message ?? 'is invalid',
      }));
      return sendError(reply, request, 400, { code: 'INVALID_INPUT', message: 'the request is invalid', details });
    }
    const status = err.statusCode ?? 500;
    if (status === 429) return sendError(reply, request, 429, { code: 'RATE_LIMITED', message: err.message });
    if (status >= 400 && status < 500) {
      const message =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'the request body is too large'
          : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'send the body as application/json'
            : err.message;
      return sendError(reply, request, status, {
        code: status === 413 || status === 415 ? 'INVALID_INPUT' : 'INVALID_INPUT',
        message,
      });
    }
    const store = outageOf(err);
    if (store) {
      request.log.warn({ err }, `${store} unavailable`);
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return sendError(reply, request, 503, {
        code: 'UNAVAILABLE',
        message: `${store} is unavailable; retry in ${RETRY_AFTER_SECONDS} seconds`,
      });
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, request, 500, {
      code: 'INTERNAL',
      message: `internal error; quote request id ${request.id} when reporting it`,
    });
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, 404, {
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    }),
  );
}
