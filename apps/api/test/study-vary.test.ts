/**
 * A study's `vary` keys are dot paths into the spec. One project's crafted keys must not reach
 * Object.prototype inside the API, which would change how every later request of every project is read.
 */
import { readFileSync } from 'node:fs';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_study_vary');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const base = () =>
  JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

describe.skipIf(!env)('study vary keys across projects (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let attacker: string;
  let victim: string;
  const post = (url: string, key: string, payload: unknown) =>
    t.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}` }, payload: payload as object });

  beforeAll(async () => {
    t = await testApp(env!);
    attacker = (await t.deps.repos.projects.createApiKey('attacker')).key;
    victim = (await t.deps.repos.projects.createApiKey('victim')).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    { '__proto__.path': ['/etc'] },
    { 'constructor.prototype.path': ['/etc'] },
    { $ne: null },
    { x_y: [] },
    { 'method.epsilon': [] },
  ])('refuses vary %# with 400 naming the key, and nothing leaks into other projects', async (vary) => {
    const r = await post('/v1/studies', attacker, { name: 'evil', base: base(), vary });
    expect(r.statusCode, r.body).toBe(400);
    const details = (r.json().details ?? []) as Array<{ path: string }>;
    expect(
      details.some((p) => p.path.startsWith('vary')),
      r.body,
    ).toBe(true);
    // the app runs in this process: a polluted Object.prototype would show on any fresh object
    expect(({} as Record<string, unknown>).path).toBeUndefined();

    const ok = await post('/v1/experiments', victim, { ...base(), name: 'after-attack' });
    expect(ok.statusCode, ok.body).toBe(202);
    const study = await post('/v1/studies', victim, { name: 'fine', base: base(), vary: { seed: [1, 2] } });
    expect(study.statusCode, study.body).toBe(202);
  });
});
