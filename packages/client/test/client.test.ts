import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ArcalClient, type ExperimentStreamEvent, isApiError, ROUTES } from '../src/index.ts';
import { type LiveApi, smallSpec, startApi } from './live-api.ts';

const integration = await integrationEnv('client');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const caught = async (p: Promise<unknown>): Promise<ApiError> => {
  try {
    await p;
  } catch (e) {
    if (isApiError(e)) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
};

describe.skipIf(!env)('@arcal/client against the real API', () => {
  let api: LiveApi;
  let client: ArcalClient;

  beforeAll(async () => {
    api = await startApi(env!);
    client = new ArcalClient({ baseUrl: api.url, apiKey: api.key });
  });
  afterAll(() => api?.close());

  it('knows exactly the routes, methods and operationIds of the OpenAPI document (under /v1, plus /healthz and /readyz)', async () => {
    const doc = (await api.app.inject({ url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const methods = new Set(['get', 'post', 'put', 'patch', 'delete']);
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/v1/') && path !== '/healthz' && path !== '/readyz') continue;
      for (const [m, op] of Object.entries(ops))
        if (methods.has(m)) documented.add(`${m.toUpperCase()} ${path} ${op.operationId}`);
    }
    const known = new Set(Object.values(ROUTES).map((r) => `${r.method} ${r.path} ${r.operationId}`));
    expect(
      [...known].filter((r) => !documented.has(r)),
      'routes the client calls that the API does not document',
    ).toEqual([]);
    expect(
      [...documented].filter((r) => !known.has(r)),
      'documented routes the client does not know',
    ).toEqual([]);
  });

  it('submits, lists, reads, cancels, retries and deletes', async () => {
    const s = await client.submit(smallSpec('one'));
    expect(s.status).toBe('queued');
    expect(s.links.self).toBe(`/v1/experiments/${s.id}`);
    const again = await client.submit(smallSpec('two'), { idempotencyKey: 'k-1' });
    const replay = await client.submit(smallSpec('two'), { idempotencyKey: 'k-1' });
    expect(replay.id).toBe(again.id);

    const page = await client.list({ limit: 1 });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]!.id).toBe(again.id); // newest first
    expect(page.next).not.toBeNull();
    const all = await client.listAll();
    expect(all.map((e) => e.id).sort()).toEqual([s.id, again.id].sort());

    const one = await client.get(s.id);
    expect(one.name).toBe('one');
    expect(one.report).toBeNull();
    expect((await client.metrics(s.id)).epochs).toEqual([]);
    expect((await client.logs(s.id)).items).toEqual([]);
    expect((await client.artifacts(s.id)).items).toEqual([]);

    expect((await client.cancel(s.id)).status).toBe('cancelled');
    const conflict = await caught(client.cancel(s.id));
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.status).toBe(409);
    expect((await client.retry(s.id)).status).toBe('queued');
    await client.cancel(s.id);
    await client.delete(s.id);
    expect((await caught(client.get(s.id))).code).toBe('NOT_FOUND');
  });

  it('reads logs page by page', async () => {
    const s = await client.submit(smallSpec('logs'));
    for (let i = 0; i < 5; i++) await api.deps.repos.results.appendLog(s.id, 'info', `line ${i}`);
    const first = await client.logs(s.id, { limit: 2 });
    expect(first.items.map((l) => l.message)).toEqual(['line 0', 'line 1']);
    const rest = await client.logs(s.id, { after: first.next!, limit: 10 });
    expect(rest.items.map((l) => l.message)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(rest.next).toBeNull();
  });

  it('errors carry the API code, message, details and request id', async () => {
    const bad = smallSpec('bad') as Record<string, any>;
    bad.training.epochs = 0;
    bad.bogus = true;
    const e = await caught(client.submit(bad));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('INVALID_SPEC');
    expect(e.status).toBe(400);
    expect(e.details.map((d) => d.path).sort()).toEqual(['bogus', 'training.epochs']);
    expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.describe()).toContain(`request ${e.requestId}`);

    const traced = new ArcalClient({ baseUrl: api.url, apiKey: api.key, requestId: () => 'trace-42' });
    expect((await caught(traced.get('00000000-0000-0000-0000-000000000000'))).requestId).toBe('trace-42');
    const nokey = await caught(new ArcalClient({ baseUrl: api.url, apiKey: 'wrong' }).list());
    expect([nokey.code, nokey.status]).toEqual(['UNAUTHORIZED', 401]);
    expect(() => ArcalClient.fromEnv({})).toThrow(/ARCAL_API_KEY/);
  });

  it('says NETWORK when nothing answers', async () => {
    const e = await caught(new ArcalClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k' }).list());
    expect([e.code, e.status]).toEqual(['NETWORK', 0]);
    expect(e.message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  it('cookie mode: the key buys a session; writes need the CSRF token, reads do not', async () => {
    // A browser keeps the cookie; here a tiny jar does.
    let cookie = '';
    const jarFetch: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(input, { ...init, headers });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0]!;
      return res;
    };
    const web = new ArcalClient({ baseUrl: api.url, fetch: jarFetch });
    const session = await web.createSession(api.key);
    expect(session.project).toBe('team-a');
    expect(cookie).toMatch(/^arcal_session=/);
    expect((await web.list()).items.length).toBeGreaterThan(0);
    const s = await web.submit(smallSpec('from-cookie'));
    expect(s.status).toBe('queued');
    web.setCsrfToken('not-the-token');
    expect((await caught(web.cancel(s.id))).code).toBe('FORBIDDEN');
    web.setCsrfToken(session.csrfToken);
    expect((await web.cancel(s.id)).status).toBe('cancelled');
    expect((await caught(new ArcalClient({ baseUrl: api.url }).createSession('wrong'))).code).toBe('UNAUTHORIZED');
  });

  it('signs out: the session ends, the CSRF token is dropped, and the old cookie gets 401', async () => {
    let cookie = '';
    const jarFetch: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(input, { ...init, headers });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0]!;
      return res;
    };
    const web = new ArcalClient({ baseUrl: api.url, fetch: jarFetch });
    await web.createSession(api.key);
    const old = cookie;
    expect((await web.list()).items).toBeDefined();
    await web.deleteSession();
    expect(web.hasSession).toBe(false);
    expect(cookie).toBe('arcal_session='); // the browser would drop it
    const stale = new ArcalClient({
      baseUrl: api.url,
      fetch: (i, init) => fetch(i, { ...init, headers: { cookie: old } }),
    });
    const e = await caught(stale.list());
    expect([e.code, e.status]).toEqual(['UNAUTHORIZED', 401]);
  });

  it('studies: submit, list, read, and wait for the aggregated report', async () => {
    const study = { name: 'sweep', base: smallSpec('base'), vary: { 'training.learningRate': [0.05], seed: [1, 2] } };
    const s = await client.submitStudy(study, { idempotencyKey: 'study-k' });
    expect(s.experiments).toHaveLength(2);
    expect((await client.submitStudy(study, { idempotencyKey: 'study-k' })).id).toBe(s.id);
    expect((await client.listStudies({ limit: 10 })).items.map((x) => x.id)).toContain(s.id);
    expect((await client.listAllStudies()).map((x) => x.id)).toContain(s.id);
    const d = await client.getStudy(s.id);
    expect(d.status).toBe('queued');
    expect(d.experiments.map((e) => [e.seed, e.config])).toEqual([
      [1, { 'training.learningRate': 0.05 }],
      [2, { 'training.learningRate': 0.05 }],
    ]);
    const bad = await caught(client.submitStudy({ ...study, base: { ...study.base, training: { epochs: 0 } } }));
    expect(bad.code).toBe('INVALID_SPEC');
    expect(bad.details.map((x) => x.path)).toContain('base.training.batchSize');

    const updates: string[] = [];
    const waiting = client.waitForStudy(s.id, { intervalMs: 50, onUpdate: (x) => updates.push(x.status) });
    // Play the workers: seeds 1 and 2 finish with test ECE 0.2 and 0.3.
    for (const [i, id] of s.experiments.entries()) {
      await api.deps.repos.experiments.transition(id, ['queued'], 'running');
      await api.deps.repos.results.saveReport(id, {
        final: { accuracy: 0.5, ece: 0.2 + 0.1 * i, nll: 1, brier: 0.5 },
        epochs: [],
        timings: { totalSeconds: 1 },
      });
      await api.deps.repos.experiments.transition(id, ['running'], 'succeeded');
    }
    const done = await waiting;
    expect(done.status).toBe('succeeded');
    expect(updates.at(-1)).toBe('succeeded');
    const ece = done.report!.configurations[0]!.metrics['test.ece']!;
    expect(ece.mean).toBeCloseTo(0.25, 12);
    expect(ece.std).toBeCloseTo(Math.SQRT1_2 * 0.1, 12); // √((0.05² + 0.05²) / 1)
    expect([done.report!.partial, done.report!.included, done.report!.expected]).toEqual([false, 2, 2]);
  });

  it('studies: cancel every unfinished experiment (twice is a no-op), delete only once all have finished', async () => {
    const s = await client.submitStudy({ name: 'stop-me', base: smallSpec('base'), vary: { seed: [1, 2, 3] } });
    const [first, second] = s.experiments as [string, string, string];
    await api.deps.repos.experiments.transition(first, ['queued'], 'running');
    await api.deps.repos.results.saveReport(first, {
      final: { accuracy: 0.5, ece: 0.2, nll: 1, brier: 0.5 },
      epochs: [],
      timings: { totalSeconds: 1 },
    });
    await api.deps.repos.experiments.transition(first, ['running'], 'succeeded');
    await api.deps.repos.experiments.transition(second, ['queued'], 'running');
    const partial = (await client.getStudy(s.id)).report!;
    expect([partial.partial, partial.included, partial.expected]).toEqual([true, 1, 3]);

    const busy = await caught(client.deleteStudy(s.id));
    expect([busy.code, busy.status]).toEqual(['CONFLICT', 409]);
    expect(busy.message).toMatch(/1 queued, 1 running\); cancel it before deleting$/);
    const c = await client.cancelStudy(s.id);
    expect([c.id, c.status, c.counts.succeeded, c.counts.cancelled]).toEqual([s.id, 'cancelled', 1, 2]);
    expect((await client.cancelStudy(s.id)).counts).toEqual(c.counts);
    expect(await client.deleteStudy(s.id)).toBeUndefined();
    expect((await caught(client.getStudy(s.id))).code).toBe('NOT_FOUND');
    expect((await caught(client.get(first))).code).toBe('NOT_FOUND');
    expect((await caught(client.cancelStudy(s.id))).status).toBe(404);
  });

  it('follows events: snapshot, then what the workers publish, then end', async () => {
    const s = await client.submit(smallSpec('follow'));
    const seen: ExperimentStreamEvent[] = [];
    const done = (async () => {
      for await (const ev of client.events(s.id, { reconnect: false })) {
        seen.push(ev);
        if (ev.event === 'snapshot') {
          // The stream is subscribed once the snapshot is out: play the worker.
          await api.deps.repos.experiments.transition(s.id, ['queued'], 'running');
          await api.deps.events.publish(s.id, { type: 'status', status: 'running' });
          await api.deps.events.publish(s.id, { type: 'epoch', member: 0, epoch: 0, record: { trainLoss: 1.5 } });
          await api.deps.events.publish(s.id, {
            type: 'log',
            id: '9',
            level: 'info',
            message: 'hello',
            at: new Date().toISOString(),
          });
          await api.deps.repos.experiments.transition(s.id, ['running'], 'failed', { code: 'X', message: 'boom' });
          await api.deps.events.publish(s.id, { type: 'status', status: 'failed' });
        }
      }
    })();
    await done;
    expect(seen.map((e) => e.event)).toEqual(['snapshot', 'status', 'epoch', 'log', 'status', 'end']);
    const snap = seen[0]!;
    expect(snap.event === 'snapshot' && snap.data.experiment.id).toBe(s.id);
    expect(seen[2]!.data).toMatchObject({ member: 0, epoch: 0, record: { trainLoss: 1.5 } });
    expect(seen[5]!.data).toEqual({ status: 'failed' });

    // A finished experiment: snapshot then end at once; waitFor returns it.
    const finished = await client.waitFor(s.id);
    expect(finished.status).toBe('failed');
  });

  it('stops following when aborted', async () => {
    const s = await client.submit(smallSpec('abort'));
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const ev of client.events(s.id, { signal: ac.signal })) {
      seen.push(ev.event);
      ac.abort();
    }
    expect(seen).toEqual(['snapshot']);
  });
});
