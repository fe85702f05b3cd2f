/**
 * @arcal/web: the dashboard's static files served at /ui by the API (this plugin). Its charts are
 * @arcal/charts' specs, the same ones `arcal report --figures` renders. The plugin serves what
 * `npm run build:web` put in apps/web/dist and never builds anything itself.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const webDistDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/** Vega compiles its expressions with Function(), hence 'unsafe-eval'; everything else is this origin only. */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export interface WebUiOptions {
  /** Folder with index.html and app.js (default: apps/web/dist). */
  root?: string;
}

export async function webUi(app: FastifyInstance, opts: WebUiOptions = {}): Promise<void> {
  const root = opts.root ?? webDistDir;
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });
  const hide = { schema: { hide: true } };
  app.get('/ui', hide, (_request, reply) => reply.redirect('/ui/'));
  if (!existsSync(join(root, 'index.html'))) {
    const missing = async (_request: FastifyRequest, reply: FastifyReply) =>
      reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send(`the dashboard is not built: run npm run build:web (looked in ${root})\n`);
    app.get('/ui/', hide, missing);
    app.get('/ui/*', hide, missing);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/ui/',
    decorateReply: false,
    index: ['index.html'],
    cacheControl: true,
    maxAge: 0,
  });
}
