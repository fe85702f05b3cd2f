import { readFileSync } from 'node:fs';
import { createRedis, EventPublisher, jobIds } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { Queue } from 'bullmq';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api');
const env = integration.available ? integration.env : undefined;
const example = (n: string) => JSON.parse(readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8'));
const small = () => example('vanilla-synthetic.json');
afterAll(() => env?.cleanup());

describe.skipIf(!env)('HTTP API (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let key: string;
  let otherKey: string;
  let orchestrate: Queue;
  const auth = () => ({ authorization: `Bearer ${key}` });
  const counts = async () => ({
    experiments: await t.deps.db.experiment.count(),
    jobs: await t.deps.db.job.count(),
    queued: await orchestrate.count(),
  });

  beforeAll(async () => {
    t = await testApp(env!);
    key = (await t.deps.repos.projects.createApiKey('team-a')).key;
    otherKey = (await t.deps.repos.projects.createApiKey('team-b')).key;
    orchestrate = new Queue('orchestrate', { connection: t.deps.redis, prefix: env!.prefix });
  });
  afterAll(async () => {
    await orchestrate?.close();
    await t?.close();
  });

  it('health needs no key; everything under /v1 does, and errors carry a code and the request id', async () => {
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.json()).toEqual({ ok: true, postgres: true, redis: true });
    const r = await t.app.inject({ url: '/v1/experiments' });
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('UNAUTHORIZED');
    expect(r.json().requestId).toBe(r.headers['x-request-id']);
    const bad = await t.app.inject({ url: '/v1/experiments', headers: { authorization: `Bearer ${key}x` } });
    expect(bad.statusCode).toBe(401);
  });

  it('accepts every laptop-scale example unchanged: 202, a row, and the start job queued under the row id', async () => {
    for (const n of ['vanilla-synthetic.json', 'ar-adals-fashion.json', 'ensemble-joint.json']) {
      const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: example(n) });
      expect(r.statusCode, `${n}: ${r.body}`).toBe(202);
      const body = r.json();
      expect(body.status).toBe('queued');
      expect(body.estimate.seconds).toBeGreaterThan(0);
      expect(body.links.self).toBe(`/v1/experiments/${body.id}`);
      const row = await t.deps.db.experiment.findUniqueOrThrow({ where: { id: body.id } });
      expect(row.name).toBe(example(n).name);
      const job = await orchestrate.getJob(jobIds.start(body.id, 1));
      expect(job?.data).toEqual({ experimentId: body.id });
      expect((await t.deps.repos.jobs.get(jobIds.start(body.id, 1)))?.state).toBe('queued');
    }
  });

  it('answers the paper-scale example with 422 and its estimate, writing nothing', async () => {
    const before = await counts();
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: auth(),
      payload: example('paper-cifar10.json'),
    });
    expect(r.statusCode).toBe(422);
    expect(r.json().code).toBe('BUDGET_EXCEEDED');
    expect(r.json().estimate.seconds).toBeGreaterThan(t.config.budgetSeconds);
    expect(await counts()).toEqual(before);
  });

  it('reports every problem of an invalid spec with its dot path', async () => {
    const spec = small();
    spec.training.epochs = 0;
    spec.ensemble.members = 0;
    spec.bogus = true;
    const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: spec });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('INVALID_SPEC');
    const paths = r
      .json()
      .details.map((d: { path: string }) => d.path)
      .sort();
    expect(paths).toEqual(['bogus', 'ensemble.members', 'training.epochs']);
  });

  it('refuses dataset locations: datasets over the API are registry names', async () => {
    for (const path of ['/etc', '../../secrets', 'data']) {
      const spec = small();
      spec.dataset.path = path;
      const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: spec });
      expect(r.statusCode).toBe(400);
      expect(r.json().details.map((d: { path: string }) => d.path)).toContain('dataset.path');
    }
  });

  it('property: any single invalid field gives 400 naming that field, with no row and no job', async () => {
    const mutations: Array<[string, fc.Arbitrary<unknown>]> = [
      [
        'training.epochs',
        fc.oneof(fc.integer({ max: 0 }), fc.constant('5'), fc.double({ min: 1.1, max: 9.9, noInteger: true })),
      ],
      ['training.batchSize', fc.oneof(fc.integer({ max: 0 }), fc.constant(null))],
      ['training.learningRate', fc.oneof(fc.double({ max: 0, noNaN: true }), fc.string())],
      ['training.optimizer', fc.string().filter((s) => s !== 'sgd' && s !== 'adam')],
      ['ensemble.members', fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65, max: 10_000 }))],
      ['evaluation.bins', fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 1001, max: 1e6 }))],
      ['seed', fc.integer({ max: -1 })],
      ['name', fc.constantFrom('', 'x'.repeat(201))],
      ['model.arch', fc.string().filter((s) => !['mlp', 'cnn', 'resnet', 'wrn'].includes(s))],
      ['method.kind', fc.constantFrom('adam', 'vanila', 7)],
      ['dataset.path', fc.string({ minLength: 1 })],
      // undefined would vanish in JSON, leaving a valid spec
      ['unknownField', fc.anything().filter((v) => v !== undefined)],
    ];
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...mutations).chain(([p, g]) => g.map((v) => [p, v] as const)),
        async ([path, value]) => {
          const spec = small();
          const parts = path.split('.');
          let o = spec;
          for (const k of parts.slice(0, -1)) o = o[k];
          o[parts.at(-1)!] = value;
          const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: spec });
          expect(r.statusCode).toBe(400);
          expect(r.json().details.map((d: { path: string }) => d.path)).toContain(path);
        },
      ),
      { numRuns: 60 },
    );
    expect(await counts()).toEqual(before);
  });

  it('Idempotency-Key: a replay returns the first experiment; another body under the same key is a conflict', async () => {
    const headers = { ...auth(), 'idempotency-key': 'submit-1' };
    const a = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers, payload: small() });
    const b = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers, payload: small() });
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(200);
    expect(b.json().id).toBe(a.json().id);
    expect(await t.deps.db.experiment.count({ where: { idempotencyKey: 'submit-1' } })).toBe(1);
    const other = small();
    other.seed = 99;
    const c = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers, payload: other });
    expect(c.statusCode).toBe(409);
  });

  it("another project's experiment is not found, and lists show only the caller's project", async () => {
    const a = (
      await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: small() })
    ).json();
    const other = { authorization: `Bearer ${otherKey}` };
    for (const [method, url] of [
      ['GET', `/v1/experiments/${a.id}`],
      ['GET', `/v1/experiments/${a.id}/metrics`],
      ['POST', `/v1/experiments/${a.id}/cancel`],
      ['DELETE', `/v1/experiments/${a.id}`],
    ] as const) {
      const r = await t.app.inject({ method, url, headers: other });
      expect(r.statusCode, url).toBe(404);
    }
    const list = (await t.app.inject({ url: '/v1/experiments', headers: other })).json();
    expect(list.items).toEqual([]);
  });

  it('lists newest first in pages and filters by status', async () => {
    const all = [];
    let cursor: string | null = null;
    do {
      const r = await t.app.inject({
        url: `/v1/experiments?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        headers: auth(),
      });
      expect(r.statusCode).toBe(200);
      all.push(...r.json().items);
      cursor = r.json().next;
    } while (cursor);
    const total = await t.deps.db.experiment.count({ where: { project: { name: 'team-a' } } });
    expect(all.length).toBe(total);
    expect(new Set(all.map((e) => e.id)).size).toBe(total);
    const times = all.map((e) => Date.parse(e.createdAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    const r = await t.app.inject({ url: '/v1/experiments?status=cancelled', headers: auth() });
    expect(r.json().items.every((e: { status: string }) => e.status === 'cancelled')).toBe(true);
    expect((await t.app.inject({ url: '/v1/experiments?status=nope', headers: auth() })).statusCode).toBe(400);
  });

  it('cancel removes the waiting job; delete works on finished experiments only and removes the row', async () => {
    const a = (
      await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: small() })
    ).json();
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/experiments/${a.id}`, headers: auth() })).statusCode).toBe(
      409,
    );
    const c = await t.app.inject({ method: 'POST', url: `/v1/experiments/${a.id}/cancel`, headers: auth() });
    expect(c.statusCode).toBe(200);
    expect(c.json().status).toBe('cancelled');
    expect(await orchestrate.getJob(jobIds.start(a.id, 1))).toBeUndefined();
    expect((await t.deps.repos.jobs.get(jobIds.start(a.id, 1)))?.state).toBe('cancelled');
    expect(
      (await t.app.inject({ method: 'POST', url: `/v1/experiments/${a.id}/cancel`, headers: auth() })).statusCode,
    ).toBe(409);
    // retry queues attempt 2 under a new job id
    const r = await t.app.inject({ method: 'POST', url: `/v1/experiments/${a.id}/retry`, headers: auth() });
    expect(r.statusCode).toBe(202);
    expect(r.json().attempt).toBe(2);
    expect(await orchestrate.getJob(jobIds.start(a.id, 2))).toBeDefined();
    await t.app.inject({ method: 'POST', url: `/v1/experiments/${a.id}/cancel`, headers: auth() });
    const d = await t.app.inject({ method: 'DELETE', url: `/v1/experiments/${a.id}`, headers: auth() });
    expect(d.statusCode).toBe(204);
    expect(await t.deps.db.experiment.findUnique({ where: { id: a.id } })).toBeNull();
  });

  it('session cookie: HttpOnly + SameSite=Strict, reads work, writes need the CSRF token', async () => {
    const s = await t.app.inject({ method: 'POST', url: '/v1/session', headers: auth() });
    expect(s.statusCode).toBe(201);
    const setCookie = String(s.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    const csrf = s.json().csrfToken;
    expect((await t.app.inject({ url: '/v1/experiments', headers: { cookie } })).statusCode).toBe(200);
    const noCsrf = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { cookie },
      payload: small(),
    });
    expect(noCsrf.statusCode).toBe(403);
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { cookie, 'x-csrf-token': `${csrf}x` },
      payload: small(),
    });
    expect(wrong.statusCode).toBe(403);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { cookie, 'x-csrf-token': csrf },
      payload: small(),
    });
    expect(ok.statusCode).toBe(202);
    expect((await t.app.inject({ method: 'POST', url: '/v1/session' })).statusCode).toBe(401);
  });

  it('bodies over the limit get 413 in the error shape', async () => {
    const spec = small();
    spec.name = 'x'.repeat(t.config.bodyLimit + 10);
    const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: spec });
    expect(r.statusCode).toBe(413);
    expect(r.json().code).toBe('INVALID_INPUT');
    expect(r.json().requestId).toBeTruthy();
  });

  it('OpenAPI at /docs/json describes every route', async () => {
    const doc = (await t.app.inject({ url: '/docs/json' })).json();
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const r of [
      'POST /v1/experiments',
      'GET /v1/experiments',
      'GET /v1/experiments/{id}',
      'GET /v1/experiments/{id}/metrics',
      'GET /v1/experiments/{id}/events',
      'GET /v1/experiments/{id}/logs',
      'GET /v1/experiments/{id}/artifacts',
      'GET /v1/experiments/{id}/artifacts/{name}',
      'POST /v1/experiments/{id}/cancel',
      'POST /v1/experiments/{id}/retry',
      'DELETE /v1/experiments/{id}',
      'POST /v1/session',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
    ]) {
      expect(routes, r).toContain(r);
    }
    expect(doc.paths['/v1/experiments'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ExperimentSpec',
    });
    expect(doc.components.schemas.ExperimentSpec.properties.training).toBeDefined();
  });

  it('/metrics is Prometheus text with queue depths, process metrics and HTTP latencies', async () => {
    const r = await t.app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toMatch(/^arcal_queue_jobs\{queue="orchestrate",state="waiting"\} \d+$/m);
    expect(r.body).toMatch(/# TYPE process_cpu_seconds_total counter/);
    expect(r.body).toMatch(
      /^arcal_http_request_duration_seconds_count\{method="POST",route="\/v1\/experiments",status="202"\} \d+$/m,
    );
  });

  it('SSE: the first event is a snapshot, then published events, then end when finished', async () => {
    const a = (
      await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: small() })
    ).json();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/v1/experiments/${a.id}/events`, { headers: auth() });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    };
    await readUntil('event: snapshot');
    const publisher = new EventPublisher(createRedis(env!.redisUrl, 'producer'), env!.prefix);
    await publisher.publish(a.id, { type: 'epoch', member: 0, epoch: 0, record: { trainLoss: 1 } });
    await publisher.publish(a.id, { type: 'status', status: 'succeeded' });
    await readUntil('event: end');
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events).toEqual(['snapshot', 'epoch', 'status', 'end']);
    expect(JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]!).experiment.id).toBe(a.id);
  });
});

describe.skipIf(!env)('HTTP API limits and failures', () => {
  it('rate-limits per project with 429 RATE_LIMITED, independently for each project', async () => {
    // The address limit (which this file's other tests also count against) is set out of the way.
    const t = await testApp(env!, { rateLimit: { max: 3, windowMs: 60_000, addressMax: 10_000 } });
    try {
      const k1 = (await t.deps.repos.projects.createApiKey('rl')).key;
      const k2 = (await t.deps.repos.projects.createApiKey('rl-2')).key;
      const get = (k: string) => t.app.inject({ url: '/v1/experiments', headers: { authorization: `Bearer ${k}` } });
      for (let i = 0; i < 3; i++) expect((await get(k1)).statusCode).toBe(200);
      const r = await get(k1);
      expect(r.statusCode).toBe(429);
      expect(r.json().code).toBe('RATE_LIMITED');
      expect((await get(k2)).statusCode).toBe(200);
      expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('an unexpected failure is a 500 with a request id and no stack trace', async () => {
    // A real database server, but a database that does not exist: every query fails.
    const u = new URL(env!.databaseUrl);
    u.pathname = '/arcal_no_such_database';
    const t = await testApp(env!, { databaseUrl: u.toString() });
    try {
      const r = await t.app.inject({ url: '/v1/experiments', headers: { authorization: 'Bearer arcal_whatever' } });
      expect(r.statusCode).toBe(500);
      expect(r.json().code).toBe('INTERNAL');
      expect(r.json().requestId).toBe(r.headers['x-request-id']);
      expect(r.body).not.toMatch(/\bat .*\.ts:\d+|node_modules|Prisma/);
    } finally {
      await t.close();
    }
  });
});
