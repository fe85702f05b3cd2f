/**
 * POST /v1/session: trade an API key for an HttpOnly SameSite=Strict cookie plus a CSRF token for writes.
 * DELETE /v1/session: sign out — the session row is deleted and the cookie cleared.
 */
import { ArcalError, ref, Session } from '@arcal/contracts';
import type { ProjectsRepository } from '@arcal/db';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { bearerToken, SESSION_COOKIE } from '../plugins/auth.ts';
import { errorRef, type TypeBoxProvider } from '../schemas.ts';

export async function sessionRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectsRepository; ttlMs: number; secure: boolean },
) {
  const api = app.withTypeProvider<TypeBoxProvider>();
  api.post(
    '/v1/session',
    {
      schema: {
        operationId: 'createSession',
        summary: 'Exchange an API key (Bearer) for a session cookie',
        description:
          'Sets `arcal_session` (HttpOnly, SameSite=Strict). Writes made with the cookie must send the returned `csrfToken` in `x-csrf-token`.',
        tags: ['auth'],
        security: [{ bearer: [] }],
        response: {
          201: ref(Session),
          401: errorRef,
        },
      },
    },
    async (request, reply) => {
      const key = bearerToken(request);
      const p = key ? await deps.projects.principalForKey(key) : null;
      if (!p) throw new ArcalError('UNAUTHORIZED', 'send a valid API key as Authorization: Bearer <key>');
      const s = await deps.projects.createSession(p.apiKeyId, deps.ttlMs);
      reply.setCookie(SESSION_COOKIE, s.token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: deps.secure,
        path: '/',
        expires: s.expiresAt,
      });
      reply.status(201);
      return { project: p.projectName, csrfToken: s.csrf, expiresAt: s.expiresAt.toISOString() };
    },
  );

  api.delete(
    '/v1/session',
    {
      schema: {
        operationId: 'deleteSession',
        summary: 'Sign out: delete the session of the cookie and clear the cookie',
        description:
          'Requests made later with the old cookie get 401. Answers 204 whether or not the cookie named a live session. Needs no CSRF token: a forged request could only end the session, and SameSite=Strict keeps other sites from sending the cookie at all.',
        tags: ['auth'],
        security: [{ session: [] }],
        response: { 204: T.Null(), 429: errorRef },
      },
    },
    async (request, reply) => {
      const token = request.cookies?.[SESSION_COOKIE];
      if (token) await deps.projects.deleteSession(token);
      reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: deps.secure, path: '/' });
      return reply.status(204).send(null);
    },
  );
}
