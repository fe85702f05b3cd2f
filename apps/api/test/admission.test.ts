/**
 * Admission beyond the time budget: an experiment whose estimated peak memory exceeds a worker's is refused
 * before anything is stored, and one project cannot hold more unfinished experiments than its cap.
 */
import { readFileSync } from 'node:fs';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_admission');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const base = (): Record<string, any> =>
  JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8'));

describe.skipIf(!env)('admission: memory and per-project cap (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let a: string;
  let b: string;
  const post = (url: string, key: string, payload: unknown) =>
    t.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}` }, payload: payload as object });

  beforeAll(async () => {
    // 1 GiB per worker, 3 unfinished experiments per project, and a time budget nothing here reaches
    t = await testApp(env!, { workerMemoryBytes: 2 ** 30, maxActivePerProject: 3, budgetSeconds: 1e12 });
    a = (await t.deps.repos.projects.createApiKey('team-a')).key;
    b = (await t.deps.repos.projects.createApiKey('team-b')).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a synthetic set too large for a worker with 422 MEMORY_EXCEEDED and stores nothing', async () => {
    const before = await t.deps.db.experiment.count();
    const spec = base();
    // 2,000,000 images of 8×8×1 float32 are 512 MB; with a 32×32×3 shape they are 24 GiB
    spec.dataset = { ...spec.dataset, shape: [32, 32, 3], trainLimit: 2_000_000 };
    const r = await post('/v1/experiments', a, spec);
    expect(r.statusCode, r.body).toBe(422);
    expect(r.json().code).toBe('MEMORY_EXCEEDED');
    expect(r.json().estimate.memoryBytes).toBeGreaterThan(2_000_000 * 32 * 32 * 3 * 4);
    expect(await t.deps.db.experiment.count()).toBe(before);
  });

  it('refuses a study whose largest experiment is too large for a worker', async () => {
    const spec = base();
    const r = await post('/v1/studies', a, {
      name: 'too-big',
      base: spec,
      vary: { 'dataset.trainLimit': [256, 3_000_000] },
    });
    expect(r.statusCode, r.body).toBe(422);
    expect(r.json().code).toBe('MEMORY_EXCEEDED');
    expect(r.json().message).toMatch(/trainLimit=3000000/);
  });

  it('caps unfinished experiments per project at 3 (429), without affecting another project', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await post('/v1/experiments', a, { ...base(), name: `q${i}` });
      expect(r.statusCode, r.body).toBe(202);
    }
    const over = await post('/v1/experiments', a, { ...base(), name: 'q3' });
    expect(over.statusCode, over.body).toBe(429);
    expect(over.json().code).toBe('QUOTA_EXCEEDED');
    const study = await post('/v1/studies', a, { name: 'two-more', base: base(), vary: { seed: [1, 2] } });
    expect(study.statusCode, study.body).toBe(429);

    const other = await post('/v1/experiments', b, { ...base(), name: 'other-team' });
    expect(other.statusCode, other.body).toBe(202);

    // a finished experiment no longer counts
    const first = await t.deps.db.experiment.findFirst({ where: { name: 'q0' } });
    await t.deps.db.experiment.update({ where: { id: first!.id }, data: { status: 'cancelled' } });
    const again = await post('/v1/experiments', a, { ...base(), name: 'q4' });
    expect(again.statusCode, again.body).toBe(202);
  });
});
