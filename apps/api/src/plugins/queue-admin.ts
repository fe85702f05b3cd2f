/**
 * Queue admin: bull-board at /admin/queues over the four BullMQ queues, behind the API's own authentication
 * (a session cookie or a Bearer key; anything else gets the 401 error body, never the board).
 *
 * The board is read-only: an experiment's job rows in PostgreSQL are the record the orchestrator works from,
 * and cancel/retry go through the API so that rows and queue stay in step; retrying, promoting or removing a
 * BullMQ job from the board would bypass that.
 */
import { isArcalError } from '@arcal/contracts';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.ts';
import { outageOf, RETRY_AFTER_SECONDS } from './outage.ts';

export const QUEUE_ADMIN_PATH = '/admin/queues';

export interface QueueAdminDeps {
  queues: Queue[];
  authenticate: (request: FastifyRequest, reply?: FastifyReply) => Promise<void>;
}

export async function queueAdmin(app: FastifyInstance, deps: QueueAdminDeps): Promise<void> {
  // The board registers its own error handler, so a refusal is answered here rather than thrown.
  app.addHook('onRequest', async (request, reply) => {
    try {
      await deps.authenticate(request, reply);
    } catch (e) {
      const store = outageOf(e);
      if (store) {
        reply.header('retry-after', String(RETRY_AFTER_SECONDS));
        return sendError(reply, request, 503, { code: 'UNAVAILABLE', message: `${store} is unavailable` });
      }
      if (!isArcalError(e)) throw e;
      const retryAfter = (e as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      return sendError(reply, request, e.status, { code: e.code, message: e.message, details: e.details });
    }
  });
  const board = new FastifyAdapter();
  board.setBasePath(QUEUE_ADMIN_PATH);
  createBullBoard({
    queues: deps.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'arcal queues' } },
  });
  await app.register(board.registerPlugin(), { prefix: QUEUE_ADMIN_PATH });
}
