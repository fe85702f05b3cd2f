/** POST /v1/session: trade an API key for an HttpOnly SameSite=Strict cookie plus a CSRF token for writes. */
import { ArcalError } from '@arcal/contracts';
import type { ProjectsRepository } from '@arcal/db';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { bearerToken, SESSION_COOKIE } from '../plugins/auth.ts';
import { errorRef } from '../schemas.ts';

export async function sessionRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectsRepository; ttlMs: number; secure: boolean },
) {
  app.post(
    '/v1/session',
    {
      schema: {
        summary: 'Exchange an API key (Bearer) for a session cookie',
        description:
          'Sets `arcal_session` (HttpOnly, SameSite=Strict). Writes made with the cookie must send the returned `csrfToken` in `x-csrf-token`.',
        tags: ['auth'],
        security: [{ bearer: [] }],
        response: {
          201: T.Object({ project: T.String(), csrfToken: T.String(), expiresAt: T.String({ format: 'date-time' }) }),
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
}
