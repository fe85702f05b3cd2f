/**
 * Fuzz suite for the HTTP API against a real PostgreSQL and Redis: generated submissions (POST /v1/experiments,
 * POST /v1/studies) and every GET route's path parameters and query strings, each drawn from the contracts'
 * schemas (the spec and study TypeBox schemas; the GET routes and their parameter schemas from the API's own
 * OpenAPI document) and then broken in hostile ways (prototype keys at any depth, deep nesting, NUL and lone
 * surrogates, numbers past float64, long strings and headers, wrong types).
 *
 * Checked for every input: no 5xx, an error body with a code for every 4xx, no request that hangs, and
 * Object.prototype untouched. Afterwards another project's valid submissions still succeed and see nothing of
 * the fuzzing. Per-request times are measured and printed with the counts by status; the suite fails only past
 * a generous bound (FUZZ_MAX_REQUEST_MS, default 10 s) so that a busy machine does not make it flaky.
 *
 * Replay: the seed is printed; FUZZ_SEED=<seed> reruns the same inputs. FUZZ_SCALE=<k> multiplies the number
 * of runs (default 1: 2,450 inputs).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ExperimentSpec, StudySpec } from '@arcal/contracts';
import { integrationEnv } from '@arcal/db/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../apps/api/test/helpers.ts';
import {
  fromSchema,
  hostileBodyText,
  hostileKey,
  hostileValue,
  leafPaths,
  mutated,
  toJsonText,
  withKey,
} from './arbitraries.ts';

const integration = await integrationEnv('fuzz_api');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
const SCALE = Number(process.env.FUZZ_SCALE || 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const HANG_MS = 15_000;
const MAX_REQUEST_MS = Number(process.env.FUZZ_MAX_REQUEST_MS || 10_000);
/** The goal the issue sets for every request; exceeding it is reported, not failed (see the header). */
const TARGET_MS = 2_000;

const fixture = (): Record<string, any> =>
  JSON.parse(readFileSync(new URL('../../apps/api/test/fixtures/vanilla-synthetic.json', import.meta.url), 'utf8'));

/** Printable ASCII, the only bytes a header value can carry on every client. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Percent-encodes every UTF-8 byte of `s` (lone surrogates become U+FFFD, as any client would send them). */
const percentAll = (s: string) =>
  [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const encodeSegment = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return percentAll(s);
  }
};

/** Path segments and query values sent verbatim: escapes that do not decode, NUL, traversal, huge numbers. */
const rawPieces = fc.constantFrom(
  '%00',
  'a%00b',
  '%ED%A0%80',
  '%C0%AF',
  '%',
  '%zz',
  '%E2%82',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '..',
  '.',
  '99999999999999999999999999',
  '9223372036854775808',
  '9223372036854775807',
  '-1',
  '1e999',
  'NaN',
  '0x10',
  '%20',
  '%2F',
  '%u0000',
);

describe.skipIf(!env)('API fuzzing (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let key: string;
  let victimKey: string;
  let experimentId: string;
  let studyId: string;
  let getRoutes: Array<{ path: string; params: Array<{ name: string; in: string; schema: any }> }> = [];
  const byStatus = new Map<number, number>();
  const slowest: Array<{ ms: number; what: string }> = [];
  let inputs = 0;
  let maxMs = 0;
  let overTarget = 0;

  /** One request, timed; every check that applies to any input. */
  async function send(opts: {
    method: 'GET' | 'POST' | 'DELETE';
    url: string;
    headers?: Record<string, string>;
    payload?: string;
  }): Promise<number> {
    const start = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      t.app.inject({ method: opts.method, url: opts.url, headers: opts.headers, payload: opts.payload }),
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`no answer within ${HANG_MS} ms: ${opts.method} ${opts.url.slice(0, 200)}`)),
          HANG_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const ms = performance.now() - start;
    inputs++;
    byStatus.set(r.statusCode, (byStatus.get(r.statusCode) ?? 0) + 1);
    maxMs = Math.max(maxMs, ms);
    if (ms > TARGET_MS) overTarget++;
    slowest.push({ ms: Math.round(ms), what: `${opts.method} ${opts.url.slice(0, 80)} → ${r.statusCode}` });
    slowest.sort((a, b) => b.ms - a.ms).splice(5);
    const what = `${opts.method} ${opts.url.slice(0, 160)} body ${(opts.payload ?? '').slice(0, 160)}`;
    expect(r.statusCode, `${what}\n→ ${r.body.slice(0, 500)}`).toBeLessThan(500);
    if (r.statusCode >= 400) expect(typeof r.json().code, `${what}\n→ ${r.body.slice(0, 300)}`).toBe('string');
    expect(ms, what).toBeLessThan(MAX_REQUEST_MS);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    return r.statusCode;
  }

  // Headers: mostly a valid key (so inputs reach the handlers), sometimes none, a made-up one, a garbage cookie;
  // now and then long or odd extra headers.
  const headers = (post: boolean) =>
    fc
      .record(
        {
          auth: fc.oneof(
            { weight: 12, arbitrary: fc.constant('key') },
            { weight: 1, arbitrary: fc.constant('none') },
            { weight: 1, arbitrary: headerText(300).map((s) => `bearer:${s}`) },
            { weight: 1, arbitrary: headerText(300).map((s) => `cookie:${s}`) },
          ),
          idempotency: fc.option(fc.oneof(headerText(40), headerText(400)), { freq: 3 }),
          contentType: fc.oneof(
            { weight: 12, arbitrary: fc.constant('application/json') },
            {
              weight: 1,
              arbitrary: fc.constantFrom(
                'text/plain',
                'application/json; charset=latin1',
                'application/x-www-form-urlencoded',
                'multipart/form-data; boundary=x',
                'application/json; charset=utf-16',
                '',
              ),
            },
          ),
          extra: fc.option(
            fc.tuple(
              fc.constantFrom('x-request-id', 'last-event-id', 'x-csrf-token', 'accept', 'x-forwarded-for', 'x-long'),
              fc.oneof(
                headerText(64),
                fc.nat({ max: 16_000 }).map((n) => 'a'.repeat(n)),
              ),
            ),
            { freq: 4 },
          ),
        },
        { requiredKeys: ['auth', 'contentType'] },
      )
      .map((h) => {
        const out: Record<string, string> = {};
        if (h.auth === 'key') out.authorization = `Bearer ${key}`;
        else if (h.auth.startsWith('bearer:')) out.authorization = `Bearer ${h.auth.slice(7)}`;
        else if (h.auth.startsWith('cookie:')) out.cookie = `arcal_session=${h.auth.slice(7)}`;
        if (post) {
          if (h.contentType) out['content-type'] = h.contentType;
          if (h.idempotency) out['idempotency-key'] = h.idempotency;
        }
        if (h.extra) out[h.extra[0]] = h.extra[1];
        return out;
      });

  beforeAll(async () => {
    console.log(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})`);
    t = await testApp(env!, { rateLimit: { max: 1e9, windowMs: 60_000, addressMax: 1e9 } });
    key = (await t.deps.repos.projects.createApiKey('fuzz')).key;
    victimKey = (await t.deps.repos.projects.createApiKey('bystander')).key;
    const auth = { authorization: `Bearer ${key}` };
    // One real experiment and study to aim GETs at, cancelled so that their event streams end at once.
    const e = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth, payload: fixture() });
    experimentId = e.json().id;
    await t.app.inject({ method: 'POST', url: `/v1/experiments/${experimentId}/cancel`, headers: auth });
    const s = await t.app.inject({
      method: 'POST',
      url: '/v1/studies',
      headers: auth,
      payload: { name: 'fuzz-target', base: fixture(), vary: { seed: [1, 2] } },
    });
    studyId = s.json().id;
    await t.app.inject({ method: 'POST', url: `/v1/studies/${studyId}/cancel`, headers: auth });
    // Every GET route with its parameter schemas, from the API's own OpenAPI document.
    const doc = (await t.app.inject({ url: '/docs/json' })).json();
    getRoutes = Object.entries(doc.paths as Record<string, any>)
      .filter(([path, ops]) => ops.get && !path.startsWith('/docs'))
      .map(([path, ops]) => ({ path, params: ops.get.parameters ?? [] }));
  });

  afterAll(async () => {
    const counts = Object.fromEntries([...byStatus.entries()].sort(([a], [b]) => a - b));
    console.log(
      `fuzz summary: ${JSON.stringify({ seed: SEED, inputs, byStatus: counts, maxRequestMs: Math.round(maxMs), overTwoSeconds: overTarget, slowest })}`,
    );
    await t?.close();
  });

  const specs = fromSchema(ExperimentSpec as never);
  const leaves = leafPaths(ExperimentSpec as never);
  /**
   * The fixture with 1–3 of its fields set to other values their schema allows (extremes included), so that many
   * inputs pass validation and reach the estimate, the database and the queue.
   */
  const admissible = fc
    .array(
      fc
        .constantFrom(...leaves.filter(([path]) => path !== 'dataset.path'))
        .chain(([path, schema]) => fromSchema(schema).map((value) => [path, value] as const)),
      { minLength: 1, maxLength: 3 },
    )
    .map((fields) => {
      const spec = fixture();
      for (const [path, value] of fields) {
        const keys = path.split('.');
        let o = spec;
        for (const k of keys.slice(0, -1)) o = o[k] ??= {};
        o[keys.at(-1)!] = value;
      }
      return spec;
    });
  /** Experiment specs: drawn from the schema or from the fixture, as they are or broken in hostile ways. */
  const specBody = fc.oneof(
    { weight: 2, arbitrary: specs.map(toJsonText) },
    { weight: 3, arbitrary: admissible.map(toJsonText) },
    { weight: 5, arbitrary: mutated(fc.oneof(specs, admissible)).map(toJsonText) },
    { weight: 1, arbitrary: hostileValue.map(toJsonText) },
    { weight: 1, arbitrary: hostileBodyText },
  );

  // Split in parts so that no test runs long on a busy machine; each part has its own seed offset.
  for (const part of [0, 1]) {
    it(`POST /v1/experiments: 450 generated and mutated specs (part ${part + 1} of 2)`, async () => {
      await fc.assert(
        fc.asyncProperty(specBody, headers(true), async (body, h) => {
          await send({ method: 'POST', url: '/v1/experiments', headers: h, payload: body });
        }),
        { seed: SEED + part, numRuns: runs(450) },
      );
    });
  }

  // Studies: a base from the schema or the fixture, a grid over the spec's own leaf paths (values drawn from
  // each path's schema, so many grids are admissible), or over hostile paths; small grids keep rows few.
  const gridEntry = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(...leaves)
        .chain(([path, schema]) =>
          fc.array(fromSchema(schema), { minLength: 1, maxLength: 3 }).map((values) => [path, values] as const),
        ),
    },
    { weight: 1, arbitrary: fc.tuple(hostileKey, fc.oneof(fc.array(hostileValue, { maxLength: 3 }), hostileValue)) },
  );
  const studies = fc
    .record(
      {
        name: fromSchema(StudySpec.properties.name as never),
        base: fc.oneof(fc.constant(fixture()), specs),
        grid: fc.array(gridEntry, { maxLength: 3 }),
        select: fc.option(fromSchema(StudySpec.properties.select as never), { freq: 3 }),
      },
      { requiredKeys: ['name', 'base', 'grid'] },
    )
    .map(({ name, base, grid, select }) => {
      let vary: Record<string, unknown> = {};
      for (const [k, v] of grid) vary = withKey(vary, k, v);
      return { name, base, ...(grid.length ? { vary } : {}), ...(select ? { select } : {}) };
    });
  const studyBody = fc.oneof(
    { weight: 4, arbitrary: studies.map(toJsonText) },
    { weight: 5, arbitrary: mutated(studies).map(toJsonText) },
    { weight: 1, arbitrary: hostileBodyText },
  );

  for (const part of [0, 1]) {
    it(`POST /v1/studies: 300 generated and mutated studies (part ${part + 1} of 2)`, async () => {
      await fc.assert(
        fc.asyncProperty(studyBody, headers(true), async (body, h) => {
          await send({ method: 'POST', url: '/v1/studies', headers: h, payload: body });
        }),
        { seed: SEED + 10 + part, numRuns: runs(300) },
      );
    });
  }

  // The GET routes and their parameters are only known once the app is built (beforeAll).
  const getRequests = () => {
    expect(getRoutes.length).toBeGreaterThanOrEqual(9);
    const segment = (name: string, schema: any) =>
      fc.oneof(
        {
          weight: 3,
          arbitrary: fc
            .constant(name === 'name' ? 'report.json' : null)
            .chain((artifact) =>
              artifact ? fc.constant(artifact) : fc.constantFrom(experimentId, studyId).map(encodeSegment),
            ),
        },
        { weight: 2, arbitrary: fc.uuid().map(encodeSegment) },
        { weight: 2, arbitrary: fromSchema(schema ?? { type: 'string' }).map((v) => encodeSegment(String(v))) },
        { weight: 2, arbitrary: hostileKey.map(encodeSegment) },
        { weight: 2, arbitrary: rawPieces },
        { weight: 1, arbitrary: fc.nat({ max: 20_000 }).map((n) => 'i'.repeat(n)) },
      );
    const queryPair = (params: Array<{ name: string; schema: any }>) =>
      fc.oneof(
        ...(params.length
          ? [
              {
                weight: 4,
                arbitrary: fc.constantFrom(...params).chain((p) =>
                  fc.oneof(
                    fromSchema(p.schema ?? { type: 'string' }).map((v) => `${p.name}=${encodeSegment(String(v))}`),
                    rawPieces.map((v) => `${p.name}=${v}`),
                    hostileValue.map(
                      (v) => `${p.name}=${encodeSegment(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))}`,
                    ),
                  ),
                ),
              },
            ]
          : []),
        {
          weight: 1,
          arbitrary: fc.tuple(hostileKey, fc.oneof(fc.string(), rawPieces)).map(([k, v]) => `${encodeSegment(k)}=${v}`),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '__proto__[polluted]=1',
            'constructor[prototype][polluted]=1',
            '&&',
            '=',
            'limit',
            '%zz=1',
          ),
        },
      );
    const request = fc.constantFrom(...getRoutes).chain((route) => {
      const pathParams = route.params.filter((p) => p.in === 'path');
      const queryParams = route.params.filter((p) => p.in === 'query');
      return fc.record({
        route: fc.constant(route),
        segments: fc.tuple(...pathParams.map((p) => segment(p.name, p.schema))),
        query: fc.array(queryPair(queryParams), { maxLength: 4 }),
        headers: headers(false),
      });
    });
    return request;
  };
  for (const part of [0, 1, 2]) {
    it(`every GET route: 250 generated path parameters and query strings (part ${part + 1} of 3)`, async () => {
      await fc.assert(
        fc.asyncProperty(getRequests(), async ({ route, segments, query, headers: h }) => {
          let i = 0;
          let url = route.path.replace(/\{[^}]+\}/g, () => segments[i++] as string);
          // A live experiment's event stream stays open by design; only the cancelled one (or a missing one) is read.
          if (route.path.endsWith('/events') && segments[0] !== experimentId)
            url = `/v1/experiments/${randomUUID()}/events`;
          if (query.length) url += `?${query.join('&')}`;
          await send({ method: 'GET', url, headers: h });
        }),
        { seed: SEED + 20 + part, numRuns: runs(250) },
      );
    });
  }

  it('cancel, retry, delete and the session routes: 200 generated ids, queries and headers', async () => {
    // Ids are never the two fixtures' (they must survive for the GET parts); real ids of the fuzz project's own
    // fuzz submissions are fair game through the list.
    const listed = (
      await t.app.inject({ url: '/v1/experiments?limit=100', headers: { authorization: `Bearer ${key}` } })
    ).json().items as Array<{ id: string }>;
    const own = listed.map((e) => e.id).filter((id) => id !== experimentId);
    const id = fc.oneof(
      ...(own.length ? [fc.constantFrom(...own)] : []),
      fc.uuid(),
      hostileKey.map(encodeSegment),
      rawPieces,
    );
    const write = fc.oneof(
      fc.tuple(fc.constantFrom('POST', 'DELETE'), fc.constant('/v1/session'), fc.constant('')),
      fc.tuple(
        fc.constantFrom('POST'),
        fc.constantFrom('/v1/experiments/%s/cancel', '/v1/experiments/%s/retry', '/v1/studies/%s/cancel'),
        id,
      ),
      fc.tuple(fc.constantFrom('DELETE'), fc.constantFrom('/v1/experiments/%s', '/v1/studies/%s'), id),
    );
    await fc.assert(
      fc.asyncProperty(
        write,
        headers(true),
        fc.option(hostileBodyText, { freq: 3 }),
        async ([method, path, target], h, body) => {
          await send({
            method: method as 'POST',
            url: path.replace('%s', target),
            headers: h,
            ...(body ? { payload: body } : {}),
          });
        },
      ),
      { seed: SEED + 30, numRuns: runs(200) },
    );
  });

  it('afterwards another project is unaffected: its valid submissions succeed and it sees only its own', async () => {
    const auth = { authorization: `Bearer ${victimKey}` };
    const e = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth, payload: fixture() });
    expect(e.statusCode, e.body).toBe(202);
    const s = await t.app.inject({
      method: 'POST',
      url: '/v1/studies',
      headers: auth,
      payload: { name: 'after-fuzz', base: fixture(), vary: { 'training.epochs': [1, 2], seed: [1, 2] } },
    });
    expect(s.statusCode, s.body).toBe(202);
    expect(s.json().experiments).toHaveLength(4);
    const list = await t.app.inject({ url: '/v1/experiments?limit=100', headers: auth });
    expect(
      list
        .json()
        .items.map((x: { id: string }) => x.id)
        .sort(),
    ).toEqual([e.json().id, ...s.json().experiments].sort());
    expect((await t.app.inject({ url: '/v1/studies', headers: auth })).json().items).toHaveLength(1);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect((await t.app.inject({ url: '/readyz' })).json()).toEqual({ ok: true, postgres: true, redis: true });
  });
});
