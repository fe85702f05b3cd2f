import { createHash } from 'node:crypto';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_session_admin');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.skipIf(!env)('sign-out and the queue admin (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let key: string;
  const bearer = () => ({ authorization: `Bearer ${key}` });
  const signIn = async () => {
    const s = await t.app.inject({ method: 'POST', url: '/v1/session', headers: bearer() });
    expect(s.statusCode).toBe(201);
    const cookie = String(s.headers['set-cookie']).split(';')[0]!;
    return { cookie, token: cookie.slice('arcal_session='.length), csrf: s.json().csrfToken as string };
  };

  beforeAll(async () => {
    t = await testApp(env!);
    key = (await t.deps.repos.projects.createApiKey('team-a')).key;
  });
  afterAll(() => t?.close());

  it('DELETE /v1/session deletes the session row and clears the cookie; the old cookie then gets 401', async () => {
    const a = await signIn();
    const b = await signIn();
    expect((await t.app.inject({ url: '/v1/experiments', headers: { cookie: a.cookie } })).statusCode).toBe(200);
    expect(await t.deps.db.session.count({ where: { tokenHash: sha256(a.token) } })).toBe(1);

    const out = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: a.cookie } });
    expect(out.statusCode).toBe(204);
    const cleared = String(out.headers['set-cookie']);
    expect(cleared).toMatch(/^arcal_session=;/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
    expect(cleared).toMatch(/Path=\//);
    expect(await t.deps.db.session.count({ where: { tokenHash: sha256(a.token) } })).toBe(0);

    const after = await t.app.inject({ url: '/v1/experiments', headers: { cookie: a.cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('UNAUTHORIZED');
    // Another session of the same key is untouched.
    expect((await t.app.inject({ url: '/v1/experiments', headers: { cookie: b.cookie } })).statusCode).toBe(200);
    // Signing out again, or without a cookie, is harmless.
    expect(
      (await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: a.cookie } })).statusCode,
    ).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/session' })).statusCode).toBe(204);
    expect(await t.deps.db.session.count({ where: { tokenHash: sha256(b.token) } })).toBe(1);
  });

  it('/admin/queues: 401 without credentials or with a wrong key, the board with a key or a session cookie', async () => {
    for (const headers of [{}, { authorization: `Bearer ${key}x` }, { cookie: 'arcal_session=nope' }]) {
      for (const url of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/queue/train']) {
        const r = await t.app.inject({ url, headers });
        expect(r.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        expect(r.json().code).toBe('UNAUTHORIZED');
        expect(r.body).not.toMatch(/<html|bull/i);
      }
    }
    const page = await t.app.inject({ url: '/admin/queues', headers: bearer() });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<base href="/admin/queues/" />');
    expect(page.body).toContain('<title>arcal queues</title>');
    const script = /<script defer src="(static\/js\/[^"]+\.js)"/.exec(page.body)![1]!;
    const asset = await t.app.inject({ url: `/admin/queues/${script}`, headers: bearer() });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect((await t.app.inject({ url: `/admin/queues/${script}` })).statusCode).toBe(401);

    const { cookie, csrf } = await signIn();
    expect((await t.app.inject({ url: '/admin/queues', headers: { cookie } })).statusCode).toBe(200);
    const api = await t.app.inject({ url: '/admin/queues/api/queues', headers: { cookie } });
    expect(api.statusCode).toBe(200);
    const queues = api.json().queues as Array<{ name: string; readOnlyMode: boolean }>;
    expect(queues.map((q) => q.name).sort()).toEqual(['attack', 'evaluate', 'orchestrate', 'train']);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);

    // Writes: a cookie without the CSRF token is refused by the API's rule; with it (or a key) the board is
    // read-only and refuses on its own.
    const pause = (headers: Record<string, string>) =>
      t.app.inject({ method: 'PUT', url: '/admin/queues/api/queues/train/pause', headers });
    const noCsrf = await pause({ cookie });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().code).toBe('FORBIDDEN');
    for (const headers of [{ cookie, 'x-csrf-token': csrf }, bearer()]) {
      const r = await pause(headers);
      expect(r.statusCode, r.body).toBe(405);
      expect(r.json()).toEqual({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
    }
    expect(await t.deps.dispatcher.queues.train.isPaused()).toBe(false);
  });

  it('the board stays out of the OpenAPI document; the sign-out route is in it', async () => {
    const doc = (await t.app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
    expect(doc.paths['/v1/session'].delete).toBeDefined();
  });
});
