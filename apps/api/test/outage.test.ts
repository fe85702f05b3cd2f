/**
 * PostgreSQL or Redis out of reach: every /v1 route answers 503 UNAVAILABLE with Retry-After (never 500), and
 * the API recovers by itself once the store is back. PostgreSQL is "down" by pointing the API at a port where
 * nothing listens; Redis is a private redis-server on its own port that this file starts and stops (the shared
 * servers are never touched).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { outageOf } from '../src/plugins/outage.ts';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_outage');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const small = () => JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8'));

/** A TCP port that nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Every /v1 route (method, url, body), with ids that would exist. */
const routes = (id: string, studyId: string): Array<[string, string, unknown?]> => [
  ['GET', '/v1/experiments'],
  ['POST', '/v1/experiments', small()],
  ['GET', `/v1/experiments/${id}`],
  ['GET', `/v1/experiments/${id}/metrics`],
  ['GET', `/v1/experiments/${id}/events`],
  ['GET', `/v1/experiments/${id}/logs`],
  ['GET', `/v1/experiments/${id}/artifacts`],
  ['GET', `/v1/experiments/${id}/artifacts/report.json`],
  ['POST', `/v1/experiments/${id}/cancel`],
  ['POST', `/v1/experiments/${id}/retry`],
  ['DELETE', `/v1/experiments/${id}`],
  ['POST', '/v1/studies', { name: 'grid', base: small(), vary: { seed: [1, 2] } }],
  ['GET', '/v1/studies'],
  ['GET', `/v1/studies/${studyId}`],
  ['POST', `/v1/studies/${studyId}/cancel`],
  ['DELETE', `/v1/studies/${studyId}`],
  ['POST', '/v1/session'],
];

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('which failures are outages', () => {
  const sock = (code: string) =>
    Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, syscall: 'connect' });
  it('names the store for connection failures, wrapped or not, and nothing for other errors', () => {
    const cases: Array<[unknown, string | null]> = [
      [Object.assign(new Error("Can't reach database server"), { code: 'P1001' }), 'PostgreSQL'],
      [
        Object.assign(new Error('Raw query failed'), {
          code: 'P2010',
          meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } },
        }),
        'PostgreSQL',
      ],
      [
        Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
        'PostgreSQL',
      ],
      [Object.assign(new Error('the database system is starting up'), { code: '57P03' }), 'PostgreSQL'],
      [new Error('Connection terminated unexpectedly'), 'PostgreSQL'],
      [
        Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' }),
        'Redis',
      ],
      [new Error('Command timed out'), 'Redis'],
      [new Error('Connection is closed.'), 'Redis'],
      [new AggregateError([sock('ECONNREFUSED'), sock('ECONNREFUSED')], 'connect failed'), 'PostgreSQL or Redis'],
      [new Error('wrapped', { cause: sock('ETIMEDOUT') }), 'PostgreSQL or Redis'],
      [
        Object.assign(new Error('socket hang up', { cause: sock('ECONNRESET') }), { $metadata: {} }),
        'The artifact store',
      ],
      [new TypeError("Cannot read properties of undefined (reading 'x')"), null],
      [Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }), null],
      [Object.assign(new Error('database "x" does not exist'), { code: '3D000' }), null],
      ['a string', null],
      [null, null],
    ];
    for (const [err, store] of cases) expect(outageOf(err), String((err as Error)?.message ?? err)).toBe(store);
    // A cycle of causes ends the walk.
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = new Error('b', { cause: a });
    expect(outageOf(a)).toBeNull();
  });
});

describe.skipIf(!env)('outages answer 503 with Retry-After', () => {
  it('PostgreSQL unreachable: every /v1 route is 503 UNAVAILABLE, readiness says which store', async () => {
    const port = await freePort();
    const t = await testApp(env!, { databaseUrl: `postgresql://postgres@127.0.0.1:${port}/arcal` });
    try {
      for (const [method, url, payload] of routes(randomUUID(), randomUUID())) {
        const r = await t.app.inject({
          method: method as 'GET',
          url,
          headers: { authorization: 'Bearer arcal_anykey', cookie: 'arcal_session=s' },
          ...(payload ? { payload: payload as object } : {}),
        });
        expect(r.statusCode, `${method} ${url}: ${r.body}`).toBe(503);
        expect(r.json().code).toBe('UNAVAILABLE');
        expect(r.json().message).toMatch(/PostgreSQL/);
        expect(r.headers['retry-after']).toBe('5');
      }
      // Sign-out with a cookie also needs the database.
      const out = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: 'arcal_session=s' } });
      expect(out.statusCode).toBe(503);
      expect((await t.app.inject({ url: '/readyz' })).json()).toEqual({ ok: false, postgres: false, redis: true });
      expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  describe.skipIf(!hasRedisServer)('Redis stopped and started again (a private redis-server)', () => {
    let redis: ChildProcess | undefined;
    const startRedis = async (port: number) => {
      redis = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      await until('redis-server to listen', () =>
        spawnSync('redis-cli', ['-p', String(port), 'ping'])
          .stdout?.toString()
          .includes('PONG'),
      );
    };
    const stopRedis = async () => {
      const p = redis;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((ok) => p.once('exit', ok));
      p.kill('SIGKILL');
      await exited;
    };
    afterAll(stopRedis);

    it('a Redis that stops answering but keeps the connection open (SIGSTOP) is a 503 after the command timeout, not a hang', async () => {
      const port = await freePort();
      await startRedis(port);
      const t = await testApp(env!, { redisUrl: `redis://127.0.0.1:${port}`, redisCommandTimeoutMs: 300 });
      try {
        const key = (await t.deps.repos.projects.createApiKey('frozen')).key;
        const auth = { authorization: `Bearer ${key}` };
        expect((await t.app.inject({ url: '/v1/experiments', headers: auth })).statusCode).toBe(200);
        redis!.kill('SIGSTOP');
        try {
          for (const [method, url, payload] of [
            ['GET', '/v1/experiments'],
            ['POST', '/v1/experiments', small()],
          ] as const) {
            const r = await t.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });
            expect(r.statusCode, `${method} ${url}: ${r.body}`).toBe(503);
            expect(r.json().code).toBe('UNAVAILABLE');
            expect(r.headers['retry-after']).toBe('5');
          }
        } finally {
          redis!.kill('SIGCONT');
        }
        await until('Redis to answer again', async () => (await t.app.inject({ url: '/readyz' })).statusCode === 200);
        expect((await t.app.inject({ url: '/v1/experiments', headers: auth })).statusCode).toBe(200);
      } finally {
        await t.close();
        await stopRedis();
      }
    });

    it('every /v1 route is 503 while it is down (the rate limiter fails closed), and works again after', async () => {
      const port = await freePort();
      await startRedis(port);
      const t = await testApp(env!, { redisUrl: `redis://127.0.0.1:${port}` });
      try {
        const key = (await t.deps.repos.projects.createApiKey('outage')).key;
        const auth = { authorization: `Bearer ${key}` };
        const sub = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth, payload: small() });
        expect(sub.statusCode, sub.body).toBe(202);
        const id = sub.json().id as string;

        await stopRedis();
        await until('the API to see Redis gone', () => t.deps.redis.status !== 'ready');
        for (const [method, url, payload] of routes(id, randomUUID())) {
          const r = await t.app.inject({
            method: method as 'GET',
            url,
            headers: auth,
            ...(payload ? { payload: payload as object } : {}),
          });
          expect(r.statusCode, `${method} ${url}: ${r.body}`).toBe(503);
          expect(r.json().code).toBe('UNAVAILABLE');
          expect(r.json().message).toMatch(/Redis/);
          expect(r.headers['retry-after']).toBe('5');
        }
        expect((await t.app.inject({ url: '/readyz' })).json()).toMatchObject({ ok: false, redis: false });

        await startRedis(port);
        await until('the API to reconnect', () => t.deps.redis.status === 'ready');
        const again = await t.app.inject({ url: `/v1/experiments/${id}`, headers: auth });
        expect(again.statusCode, again.body).toBe(200);
        const sub2 = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth, payload: small() });
        expect(sub2.statusCode, sub2.body).toBe(202);
      } finally {
        await t.close();
      }
    });
  });
});
