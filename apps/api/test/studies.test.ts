import { readFileSync } from 'node:fs';
import { validateSpec } from '@arcal/contracts';
import { jobIds } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleReport } from '../../web/test/report-fixture.ts';
import { estimateCost } from '../src/estimate.ts';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_studies');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const base = () =>
  JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8')) as Record<
    string,
    any
  >;

/** AR-AdaLS on the small synthetic spec, R ∈ {2, 4} × seed ∈ {1, 2}. */
const study2x2 = (name = 'r-sweep') => {
  const b = base();
  b.method = { kind: 'ar-adals', alpha: 1, robustness: { attack: 'ddn-l2', params: { steps: 5 } } };
  b.evaluation = { bins: 10, robustnessSubsets: 2 };
  return { name, base: b, vary: { 'method.subsets': [2, 4], seed: [1, 2] } };
};

describe.skipIf(!env)('studies over HTTP (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let key: string;
  let otherKey: string;
  let orchestrate: Queue;
  const auth = (k = key) => ({ authorization: `Bearer ${k}` });
  const counts = async () => ({
    studies: await t.deps.db.study.count(),
    experiments: await t.deps.db.experiment.count(),
    jobs: await t.deps.db.job.count(),
    queued: await orchestrate.count(),
  });
  const post = (payload: unknown, headers: Record<string, string> = auth()) =>
    t.app.inject({ method: 'POST', url: '/v1/studies', headers, payload: payload as object });

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

  it('a 2×2 study makes 4 experiments with the varied values, each queued like a single submission', async () => {
    const before = await counts();
    const r = await post(study2x2());
    expect(r.statusCode, r.body).toBe(202);
    const body = r.json();
    expect(body.links.self).toBe(`/v1/studies/${body.id}`);
    expect(r.headers.location).toBe(body.links.self);
    expect(body.status).toBe('queued');
    expect(body.experiments).toHaveLength(4);

    const rows = await t.deps.db.experiment.findMany({ where: { studyId: body.id } });
    expect(rows).toHaveLength(4);
    const grid = rows.map((e) => {
      const spec = e.spec as any;
      return [spec.method.subsets, spec.seed, spec.method.kind, e.name, e.status];
    });
    // First vary path outermost: R = 2 with seeds 1, 2, then R = 4.
    expect(body.experiments).toEqual(
      ['method.subsets=2_seed=1', 'method.subsets=2_seed=2', 'method.subsets=4_seed=1', 'method.subsets=4_seed=2'].map(
        (slug) => rows.find((e) => e.name === `r-sweep.${slug}`)!.id,
      ),
    );
    expect(grid.sort()).toEqual([
      [2, 1, 'ar-adals', 'r-sweep.method.subsets=2_seed=1', 'queued'],
      [2, 2, 'ar-adals', 'r-sweep.method.subsets=2_seed=2', 'queued'],
      [4, 1, 'ar-adals', 'r-sweep.method.subsets=4_seed=1', 'queued'],
      [4, 2, 'ar-adals', 'r-sweep.method.subsets=4_seed=2', 'queued'],
    ]);
    // The stored spec is the resolved one, as POST /v1/experiments stores it.
    for (const e of rows) expect((e.spec as any).training.momentum).toBe(0.9);
    for (const id of body.experiments) {
      expect((await orchestrate.getJob(jobIds.start(id, 1)))?.data).toEqual({ experimentId: id });
      expect((await t.deps.repos.jobs.get(jobIds.start(id, 1)))?.state).toBe('queued');
    }
    const after = await counts();
    expect(after).toEqual({
      studies: before.studies + 1,
      experiments: before.experiments + 4,
      jobs: before.jobs + 4,
      queued: before.queued + 4,
    });
    // The sum of the experiments' estimates, each computed as for a single submission.
    const perExperiment = rows.map((e) => (e.estimate as { seconds: number }).seconds);
    expect(body.estimate.seconds).toBe(perExperiment.reduce((a, b) => a + b, 0));
  });

  it('an invalid study: 400 naming every problem by its path in the study, and nothing written', async () => {
    const before = await counts();
    const doc: any = study2x2('bad');
    doc.name = 'not a name!';
    doc.vary['method.subsets'] = [];
    doc.bogus = 1;
    let r = await post(doc);
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('INVALID_SPEC');
    expect(
      r
        .json()
        .details.map((d: { path: string }) => d.path)
        .sort(),
    ).toEqual(['bogus', 'name', 'vary.method.subsets']);

    // Problems of the expanded experiments: the base's once, a varied value's by its index in the list.
    const bad: any = study2x2('bad');
    bad.base.training.epochs = 0;
    bad.base.method.alpha = -1;
    bad.vary['method.subsets'] = [0, 4];
    r = await post(bad);
    expect(r.statusCode).toBe(400);
    const details = r.json().details as Array<{ path: string; message: string }>;
    expect(details.map((d) => d.path).sort()).toEqual([
      'base.method.alpha',
      'base.training.epochs',
      'vary.method.subsets.0',
    ]);

    // Dataset locations are refused as for single experiments, wherever they come from.
    const withPath: any = study2x2('bad');
    withPath.base.dataset.path = '/etc';
    r = await post(withPath);
    expect(r.statusCode).toBe(400);
    expect(r.json().details.map((d: { path: string }) => d.path)).toEqual(['base.dataset.path']);
    const variedPath: any = study2x2('bad');
    variedPath.vary = { 'dataset.path': ['data', '../x'] };
    r = await post(variedPath);
    expect(r.json().details.map((d: { path: string }) => d.path)).toEqual([
      'vary.dataset.path.0',
      'vary.dataset.path.1',
    ]);

    r = await post({ ...study2x2('bad'), select: { metric: 'test.ece', by: 'method.epsilon' } });
    expect(r.json().details.map((d: { path: string }) => d.path)).toEqual(['select.by']);
    expect(await counts()).toEqual(before);
  });

  it('the budget applies to the sum of the estimates: 422 with every estimate, nothing written', async () => {
    const one = validateSpec({ ...study2x2().base, method: { ...study2x2().base.method, subsets: 4 } });
    if (!one.ok) throw new Error('base spec invalid');
    const cfg = t.config;
    const single = estimateCost(one.spec, { workerFlops: cfg.workerFlops, budgetSeconds: cfg.budgetSeconds }).seconds;
    // Room for three experiments: a 2×2 study is refused, a 1×2 study is not.
    const small = await testApp(env!, { budgetSeconds: 3 * single });
    try {
      const k = (await small.deps.repos.projects.createApiKey('budget')).key;
      const before = await small.deps.db.experiment.count();
      const r = await small.app.inject({
        method: 'POST',
        url: '/v1/studies',
        headers: auth(k),
        payload: { ...study2x2('b'), vary: { 'method.subsets': [4, 4], seed: [1, 2] } },
      });
      expect(r.statusCode).toBe(400); // a grid naming one point twice
      expect(r.json().details.map((d: { path: string }) => d.path)).toEqual(['vary']);
      const r2 = await small.app.inject({
        method: 'POST',
        url: '/v1/studies',
        headers: auth(k),
        payload: { ...study2x2('b'), vary: { 'method.subsets': [4], seed: [1, 2, 3, 4] } },
      });
      expect(r2.statusCode).toBe(422);
      expect(r2.json().code).toBe('BUDGET_EXCEEDED');
      expect(r2.json().estimate).toMatchObject({
        seconds: 4 * single,
        budgetSeconds: 3 * single,
        experiments: 4,
        perExperiment: [single, single, single, single],
      });
      expect(await small.deps.db.experiment.count()).toBe(before);
      const ok = await small.app.inject({
        method: 'POST',
        url: '/v1/studies',
        headers: auth(k),
        payload: { ...study2x2('b'), vary: { 'method.subsets': [4], seed: [1, 2] } },
      });
      expect(ok.statusCode, ok.body).toBe(202);
    } finally {
      await small.close();
    }
  });

  it('Idempotency-Key: a replay returns the first study and its experiments; another body is a conflict', async () => {
    const headers = { ...auth(), 'idempotency-key': 'study-1' };
    const a = await post(study2x2('idem'), headers);
    const before = await counts();
    const b = await post(study2x2('idem'), headers);
    expect([a.statusCode, b.statusCode]).toEqual([202, 200]);
    expect(b.json().id).toBe(a.json().id);
    expect(b.json().experiments).toEqual(a.json().experiments);
    expect(await counts()).toEqual(before);
    expect((await post(study2x2('idem-other'), headers)).statusCode).toBe(409);
  });

  it("another project's study is not found and not listed", async () => {
    const a = (await post(study2x2('private'))).json();
    expect((await t.app.inject({ url: `/v1/studies/${a.id}`, headers: auth(otherKey) })).statusCode).toBe(404);
    expect((await t.app.inject({ url: `/v1/studies/${a.id}`, headers: auth() })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/v1/studies/not-a-uuid', headers: auth() })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/v1/studies', headers: auth(otherKey) })).json().items).toEqual([]);
    expect((await t.app.inject({ url: '/v1/studies' })).statusCode).toBe(401);
    expect((await post(study2x2('x'), {})).statusCode).toBe(401);
  });

  it('status follows the experiments; once all finished the report is mean ± std over seeds and the selection', async () => {
    const doc = { ...study2x2('agg'), select: { metric: 'test.ece', by: 'method.subsets' } };
    const s = (await post(doc)).json();
    const get = async () => (await t.app.inject({ url: `/v1/studies/${s.id}`, headers: auth() })).json();
    let d = await get();
    expect(d.status).toBe('queued');
    expect(d.report).toBeNull();
    expect(d.varied).toEqual(['method.subsets', 'seed']);
    expect(d.experiments.map((e: any) => [e.config['method.subsets'], e.seed])).toEqual([
      [2, 1],
      [2, 2],
      [4, 1],
      [4, 2],
    ]);
    expect(d.experiments.map((e: any) => e.id)).toEqual(s.experiments);
    expect(d.document).toEqual(doc);

    // Test ECE and shift rows chosen by hand per (R, seed).
    const ece: Record<string, number> = { '2,1': 0.1, '2,2': 0.14, '4,1': 0.05, '4,2': 0.07 };
    const shift: Record<string, number> = { '2,1': 0.2, '2,2': 0.3, '4,1': 0.1, '4,2': 0.1 };
    const repos = t.deps.repos;
    for (const [i, e] of d.experiments.entries()) {
      await repos.experiments.transition(e.id, ['queued'], 'running');
      if (i === 0) expect((await get()).status).toBe('running');
      const k = `${e.config['method.subsets']},${e.seed}`;
      const report = sampleReport();
      report.final.ece = ece[k]!;
      // two rows whose mean is shift[k]
      report.shift!.rows = [
        { corruption: 'contrast', severity: 1, accuracy: 0.5, ece: shift[k]! - 0.01, nll: 1 },
        { corruption: 'contrast', severity: 2, accuracy: 0.5, ece: shift[k]! + 0.01, nll: 1 },
      ];
      await repos.results.saveReport(e.id, report);
      await repos.experiments.transition(e.id, ['running'], 'succeeded');
      if (i < 3) expect((await get()).report).toBeNull();
    }
    d = await get();
    expect(d.status).toBe('succeeded');
    expect(d.counts).toMatchObject({ total: 4, succeeded: 4 });
    const byR = Object.fromEntries(d.report.configurations.map((c: any) => [c.config['method.subsets'], c]));
    // R = 2: ECE 0.10, 0.14 → mean 0.12, sample std √(2·0.02²/1) = 0.02√2; R = 4: 0.05, 0.07 → 0.06, 0.01√2.
    expect(byR[2].metrics['test.ece'].mean).toBeCloseTo(0.12, 12);
    expect(byR[2].metrics['test.ece'].std).toBeCloseTo(0.02 * Math.SQRT2, 12);
    expect(byR[4].metrics['test.ece'].mean).toBeCloseTo(0.06, 12);
    expect(byR[4].metrics['test.ece'].std).toBeCloseTo(0.01 * Math.SQRT2, 12);
    // shift: R = 2 → 0.25 ± 0.05√2; R = 4 → 0.1 ± 0
    expect(byR[2].metrics['shift.ece'].mean).toBeCloseTo(0.25, 12);
    expect(byR[2].metrics['shift.ece'].std).toBeCloseTo(0.05 * Math.SQRT2, 12);
    expect(byR[4].metrics['shift.ece'].std).toBeCloseTo(0, 12);
    expect(byR[2].seeds).toEqual([1, 2]);
    expect(d.report.selection.groups).toHaveLength(1);
    expect(d.report.selection.groups[0].best.value).toBe(4);
    expect(d.report.succeeded).toBe(4);
    expect(d.report.missing).toEqual([]);
    expect(d.report.markdown).toContain('| method.subsets |');
    expect(d.report.markdown).toContain('12.00 ± 2.83'); // ECE in %: 100 · 0.02√2 = 2.83

    // One experiment failing marks the study failed; the report aggregates the others.
    const other = (await post(study2x2('agg-failed'))).json();
    for (const [i, id] of (other.experiments as string[]).entries()) {
      await repos.experiments.transition(id, ['queued'], 'running');
      if (i === 0) {
        await repos.experiments.transition(id, ['running'], 'failed', { code: 'X', message: 'boom' });
        continue;
      }
      await repos.results.saveReport(id, sampleReport());
      await repos.experiments.transition(id, ['running'], 'succeeded');
    }
    const f = (await t.app.inject({ url: `/v1/studies/${other.id}`, headers: auth() })).json();
    expect(f.status).toBe('failed');
    expect(f.report.succeeded).toBe(3);
    expect(f.report.missing).toEqual(['agg-failed.method.subsets=2_seed=1']);
    expect(f.report.configurations.map((c: any) => c.seeds)).toEqual([[2], [1, 2]]);
  });

  it('lists studies newest first in pages, with their experiment counts', async () => {
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/studies?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await t.app.inject({ url, headers: auth() })).json() as { items: any[]; next: string | null };
      all.push(...page.items);
      cursor = page.next;
    } while (cursor);
    const total = await t.deps.db.study.count({ where: { project: { name: 'team-a' } } });
    expect(all.length).toBe(total);
    expect(total).toBeGreaterThanOrEqual(4);
    const times = all.map((s) => Date.parse(s.createdAt));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    const agg = all.find((s) => s.name === 'agg');
    expect(agg.status).toBe('succeeded');
    expect(agg.counts).toEqual({
      total: 4,
      queued: 0,
      running: 0,
      succeeded: 4,
      failed: 0,
      cancelling: 0,
      cancelled: 0,
    });
    expect(all.find((s) => s.name === 'r-sweep').counts).toMatchObject({ total: 4, queued: 4 });
  });

  it('OpenAPI documents the study routes with their schemas', async () => {
    const doc = (await t.app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(doc.paths['/v1/studies'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(doc.paths['/v1/studies/{id}'].get).toBeDefined();
    const body = doc.paths['/v1/studies'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties)).toEqual(['name', 'base', 'vary', 'select']);
    expect(doc.paths['/v1/studies'].post.responses['202']).toBeDefined();
  });
});
