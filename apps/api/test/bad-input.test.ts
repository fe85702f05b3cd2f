/**
 * Hostile but well-formed requests get 4xx with a code, never 5xx: deep nesting, strings PostgreSQL refuses
 * (NUL, lone surrogates), an over-long Idempotency-Key, artifact names with NUL or broken escapes, log cursors
 * outside bigint, and study grids of the wrong shape.
 */
import { readFileSync } from 'node:fs';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_bad_input');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const small = () =>
  JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8')) as Record<
    string,
    any
  >;
const study = (base = small()) => ({ name: 'grid', base, vary: { seed: [1, 2] } });

/** `depth` arrays inside one another, as JSON text (JSON.stringify itself recurses). */
const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe.skipIf(!env)('bad input answers 4xx (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let key: string;
  let experimentId: string;
  const auth = () => ({ authorization: `Bearer ${key}` });
  const postRaw = (url: string, body: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { ...auth(), 'content-type': 'application/json', ...headers },
      payload: body,
    });
  const rows = async () => ({
    experiments: await t.deps.db.experiment.count(),
    studies: await t.deps.db.study.count(),
  });

  beforeAll(async () => {
    t = await testApp(env!);
    key = (await t.deps.repos.projects.createApiKey('team-a')).key;
    const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: small() });
    experimentId = r.json().id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('JSON nested 6,000 deep is refused with 400 and the depth limit, on both submission routes', async () => {
    const before = await rows();
    const spec = JSON.stringify(small()).replace(/}$/, `,"extra":${nested(6000)}}`);
    const a = await postRaw('/v1/experiments', spec);
    expect(a.statusCode, a.body).toBe(400);
    expect(a.json().code).toBe('INVALID_INPUT');
    expect(a.json().details[0].path).toMatch(/^extra(\.0)+$/);
    expect(a.json().details[0].message).toMatch(/nested/);
    const doc = JSON.stringify(study()).replace(/}$/, `,"deep":${nested(6000)}}`);
    const b = await postRaw('/v1/studies', doc);
    expect(b.statusCode, b.body).toBe(400);
    expect(b.json().code).toBe('INVALID_INPUT');
    // Within the same idempotency scope a refused body stores nothing.
    expect(await rows()).toEqual(before);
  });

  it('NUL and lone surrogates anywhere in a spec or a study are 400 with the path, and store nothing', async () => {
    const before = await rows();
    const cases: Array<[string, string, string]> = [
      // [route, JSON text, expected path]
      ['/v1/experiments', JSON.stringify({ ...small(), name: 'a\u0000b' }), 'name'],
      ['/v1/experiments', JSON.stringify(small()).replace('"synthetic-vanilla"', '"x\\ud800y"'), 'name'],
      ['/v1/experiments', JSON.stringify(small()).replace('"synthetic-vanilla"', '"x\\udc00"'), 'name'],
      ['/v1/studies', JSON.stringify(study({ ...small(), name: 'base\u0000' })), 'base.name'],
      ['/v1/studies', JSON.stringify(study()).replace('"synthetic-vanilla"', '"\\udbff"'), 'base.name'],
      // In a key, too: the key's own path is reported.
      ['/v1/experiments', JSON.stringify({ ...small(), 'k\u0000': 1 }), 'k\\u0000'],
    ];
    for (const [url, body, path] of cases) {
      const r = await postRaw(url, body);
      expect(r.statusCode, `${url} ${body.slice(0, 60)}: ${r.body}`).toBe(400);
      expect(r.json().code).toBe('INVALID_INPUT');
      expect(r.json().details.map((d: { path: string }) => d.path)).toContain(path);
    }
    expect(await rows()).toEqual(before);
    // A well-formed pair (an emoji) is an ordinary character.
    const ok = await postRaw('/v1/experiments', JSON.stringify({ ...small(), name: 'run \ud83d\ude80' }));
    expect(ok.statusCode, ok.body).toBe(202);
  });

  it('an Idempotency-Key over the documented 200 characters is 400 on both submission routes', async () => {
    const before = await rows();
    for (const [url, body] of [
      ['/v1/experiments', JSON.stringify(small())],
      ['/v1/studies', JSON.stringify(study())],
    ] as const) {
      const r = await postRaw(url, body, { 'idempotency-key': 'k'.repeat(3000) });
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().details[0].path).toBe('headers.idempotency-key');
      const edge = await postRaw(url, body, { 'idempotency-key': 'k'.repeat(201) });
      expect(edge.statusCode).toBe(400);
    }
    expect(await rows()).toEqual(before);
    const fits = await postRaw('/v1/experiments', JSON.stringify(small()), { 'idempotency-key': 'k'.repeat(200) });
    expect(fits.statusCode, fits.body).toBe(202);
  });

  it('artifact names with NUL, broken escapes or lone surrogates are 400 or 404, never 5xx', async () => {
    for (const name of ['%00', 'a%00b', 'report.json%00', '%ED%A0%80', '%C0%AF', '%', '%zz']) {
      const r = await t.app.inject({ url: `/v1/experiments/${experimentId}/artifacts/${name}`, headers: auth() });
      expect([400, 404], `${name}: ${r.statusCode} ${r.body}`).toContain(r.statusCode);
      expect(r.json().code).toMatch(/INVALID_INPUT|NOT_FOUND/);
    }
  });

  it('logs?after= outside bigint or not a number is 400; the largest bigint is an ordinary (empty) page', async () => {
    for (const after of ['9223372036854775808', '99999999999999999999999', 'abc', '-1', '1e3', '']) {
      const r = await t.app.inject({
        url: `/v1/experiments/${experimentId}/logs?after=${after}`,
        headers: auth(),
      });
      expect(r.statusCode, `after=${after}: ${r.body}`).toBe(400);
      expect(r.json().code).toBe('INVALID_INPUT');
    }
    const top = await t.app.inject({
      url: `/v1/experiments/${experimentId}/logs?after=9223372036854775807`,
      headers: auth(),
    });
    expect(top.statusCode, top.body).toBe(200);
    expect(top.json().items).toEqual([]);
  });

  it('a page size of Infinity (which the validator coerces and lets through) is 400, not a database error', async () => {
    for (const url of [
      '/v1/experiments?limit=1e999',
      '/v1/experiments?limit=Infinity',
      '/v1/studies?limit=-Infinity',
      `/v1/experiments/${experimentId}/logs?limit=1e999`,
    ]) {
      const r = await t.app.inject({ url, headers: auth() });
      expect(r.statusCode, `${url}: ${r.body}`).toBe(400);
      expect(r.json().details[0].path).toBe('querystring.limit');
    }
    expect((await t.app.inject({ url: '/v1/experiments?limit=5', headers: auth() })).statusCode).toBe(200);
  });

  it('a vary value of the wrong shape is 400 naming it', async () => {
    const before = await rows();
    for (const vary of [{ seed: 5 }, { seed: { a: 1 } }, { seed: 'x' }, { seed: null }, [1, 2], 'seed', 7]) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/studies',
        headers: auth(),
        payload: { name: 'grid', base: small(), vary } as object,
      });
      expect(r.statusCode, `${JSON.stringify(vary)}: ${r.body}`).toBe(400);
      expect(r.json().details.some((d: { path: string }) => d.path.startsWith('vary'))).toBe(true);
    }
    expect(await rows()).toEqual(before);
  });
});
