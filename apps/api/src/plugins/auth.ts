/**
 * Who is calling: `Authorization: Bearer <key>`, or the HttpOnly session cookie from POST /v1/session.
 * Cookie-authenticated writes must echo the session's CSRF token in `x-csrf-token` (a cross-site form
 * cannot read it); bearer requests need no CSRF token since browsers never add that header themselves.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ArcalError } from '@arcal/contracts';
import type { Principal, ProjectsRepository } from '@arcal/db';
import type { FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'arcal_session';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function bearerToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

export function authenticator(projects: ProjectsRepository) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const key = bearerToken(request);
    if (key) {
      const p = await projects.principalForKey(key);
      if (!p) throw new ArcalError('UNAUTHORIZED', 'the API key is not valid');
      request.principal = p;
      return;
    }
    const token = request.cookies?.[SESSION_COOKIE];
    if (token) {
      const s = await projects.principalForSession(token);
      if (!s) throw new ArcalError('UNAUTHORIZED', 'the session has expired; sign in again with POST /v1/session');
      if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method)) {
        const csrf = request.headers['x-csrf-token'];
        const given = typeof csrf === 'string' ? Buffer.from(sha256(csrf)) : undefined;
        if (!given || !timingSafeEqual(given, Buffer.from(s.csrfHash))) {
          throw new ArcalError(
            'FORBIDDEN',
            'cookie-authenticated writes need the x-csrf-token returned by POST /v1/session',
          );
        }
      }
      request.principal = { projectId: s.projectId, projectName: s.projectName, apiKeyId: s.apiKeyId };
      return;
    }
    throw new ArcalError('UNAUTHORIZED', 'send Authorization: Bearer <api key> (create one with arcal keys create)');
  };
}
