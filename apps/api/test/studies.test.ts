import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { jobIds } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleReport } from '../../../packages/charts/test/report-fixture.ts';
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
    expect(body.links.cancel).toBe(`/v1/studies/${body.id}/cancel`);
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
      // Until the last one, a partial report over the experiments that have succeeded so far.
      if (i < 3) expect((await get()).report).toMatchObject({ partial: true, included: i + 1, expected: 4 });
    }
    d = await get();
    expect(d.report).toMatchObject({ partial: false, included: 4, expected: 4 });
    expect(d.report.markdown).not.toContain('Partial');
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

  it('a partial report aggregates exactly the experiments that succeeded so far; the selection can change', async () => {
    const doc = { ...study2x2('partial'), select: { metric: 'test.ece', by: 'method.subsets' } };
    const s = (await post(doc)).json();
    const get = async () => (await t.app.inject({ url: `/v1/studies/${s.id}`, headers: auth() })).json();
    const d = await get();
    const byPoint = new Map<string, string>(
      d.experiments.map((e: any) => [`${e.config['method.subsets']},${e.seed}`, e.id]),
    );
    const repos = t.deps.repos;
    const succeed = async (point: string, ece: number) => {
      const id = byPoint.get(point)!;
      await repos.experiments.transition(id, ['queued'], 'running');
      const report = sampleReport();
      report.final.ece = ece;
      await repos.results.saveReport(id, report);
      await repos.experiments.transition(id, ['running'], 'succeeded');
    };
    // Nothing has succeeded yet (one running): no report.
    await repos.experiments.transition(byPoint.get('4,2')!, ['queued'], 'running');
    expect((await get()).report).toBeNull();

    // R = 2 with both seeds (ECE 0.08, 0.12), R = 4 with seed 1 only (0.09); (4, 2) still running.
    await succeed('2,1', 0.08);
    await succeed('2,2', 0.12);
    await succeed('4,1', 0.09);
    let r = (await get()).report;
    expect(r).toMatchObject({ partial: true, included: 3, expected: 4, succeeded: 3 });
    expect(r.missing).toEqual(['partial.method.subsets=4_seed=2']);
    let byR = Object.fromEntries(r.configurations.map((c: any) => [c.config['method.subsets'], c]));
    // R = 2: mean (0.08 + 0.12) / 2 = 0.10, sample std √((0.02² + 0.02²) / 1) = 0.02√2; R = 4: one value, no std.
    expect(byR[2].metrics['test.ece']).toMatchObject({ n: 2 });
    expect(byR[2].metrics['test.ece'].mean).toBeCloseTo(0.1, 12);
    expect(byR[2].metrics['test.ece'].std).toBeCloseTo(0.02 * Math.SQRT2, 12);
    expect(byR[4].metrics['test.ece']).toEqual({ mean: 0.09, std: null, n: 1 });
    expect(byR[4].seeds).toEqual([1]);
    // The selection among what has finished: R = 4 (0.09 < 0.10) for now.
    expect(r.selection.groups[0].best.value).toBe(4);
    expect(r.markdown).toContain('Partial: 3 of 4 experiments so far');

    // The last one finishes with ECE 0.15: R = 4 becomes (0.09 + 0.15) / 2 = 0.12 ± 0.03√2, and R = 2 wins.
    const last = byPoint.get('4,2')!;
    const report = sampleReport();
    report.final.ece = 0.15;
    await repos.results.saveReport(last, report);
    await repos.experiments.transition(last, ['running'], 'succeeded');
    r = (await get()).report;
    expect(r).toMatchObject({ partial: false, included: 4, expected: 4, missing: [] });
    byR = Object.fromEntries(r.configurations.map((c: any) => [c.config['method.subsets'], c]));
    expect(byR[4].metrics['test.ece'].mean).toBeCloseTo(0.12, 12);
    expect(byR[4].metrics['test.ece'].std).toBeCloseTo(0.03 * Math.SQRT2, 12);
    expect(r.selection.groups[0].best.value).toBe(2);
  });

  it('cancel: every unfinished experiment is cancelled as a single cancel does; a second cancel changes nothing', async () => {
    const s = (await post(study2x2('to-cancel'))).json();
    const [done, running, ...waiting] = s.experiments as string[];
    const repos = t.deps.repos;
    await repos.experiments.transition(done!, ['queued'], 'running');
    await repos.results.saveReport(done!, sampleReport());
    await repos.experiments.transition(done!, ['running'], 'succeeded');
    await repos.experiments.transition(running!, ['queued'], 'running');
    const rows = () =>
      t.deps.db.experiment.findMany({
        where: { studyId: s.id },
        select: { id: true, status: true, error: true, finishedAt: true, updatedAt: true },
        orderBy: { id: 'asc' },
      });
    for (const id of s.experiments) expect(await orchestrate.getJob(jobIds.start(id, 1))).toBeDefined();

    // Another project's, an unknown and a malformed id: 404, and nothing changes.
    const before = await rows();
    for (const [url, headers] of [
      [`/v1/studies/${s.id}/cancel`, auth(otherKey)],
      ['/v1/studies/00000000-0000-0000-0000-000000000000/cancel', auth()],
      ['/v1/studies/not-a-uuid/cancel', auth()],
    ] as const) {
      const r = await t.app.inject({ method: 'POST', url, headers });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().code).toBe('NOT_FOUND');
    }
    expect(await rows()).toEqual(before);

    const c = await t.app.inject({ method: 'POST', url: `/v1/studies/${s.id}/cancel`, headers: auth() });
    expect(c.statusCode, c.body).toBe(200);
    expect(c.json()).toMatchObject({
      id: s.id,
      status: 'cancelled',
      counts: { total: 4, succeeded: 1, cancelled: 3, queued: 0, running: 0, cancelling: 0, failed: 0 },
      links: { self: `/v1/studies/${s.id}`, cancel: `/v1/studies/${s.id}/cancel` },
    });
    // In PostgreSQL: the three unfinished ones cancelled with the single cancel's error, their jobs cancelled;
    // the succeeded one and its job row untouched.
    const after = await rows();
    const status = Object.fromEntries(after.map((e) => [e.id, e.status]));
    expect([status[done!], status[running!], ...waiting.map((id) => status[id])]).toEqual([
      'succeeded',
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    for (const e of after.filter((x) => x.id !== done))
      expect(e.error).toEqual({ code: 'CANCELLED', message: 'cancelled on request' });
    for (const id of [running!, ...waiting])
      expect((await repos.jobs.get(jobIds.start(id, 1)))?.state).toBe('cancelled');
    expect((await repos.jobs.get(jobIds.start(done!, 1)))?.state).toBe('queued');
    // In BullMQ: the cancelled experiments' waiting jobs are gone; the other is still there.
    for (const id of [running!, ...waiting]) expect(await orchestrate.getJob(jobIds.start(id, 1))).toBeUndefined();
    expect(await orchestrate.getJob(jobIds.start(done!, 1))).toBeDefined();

    const again = await t.app.inject({ method: 'POST', url: `/v1/studies/${s.id}/cancel`, headers: auth() });
    expect(again.statusCode).toBe(200);
    expect(again.json().counts).toEqual(c.json().counts);
    expect(await rows()).toEqual(after);

    // The report covers the one that succeeded; nothing is left to finish, so it is not partial.
    const d = (await t.app.inject({ url: `/v1/studies/${s.id}`, headers: auth() })).json();
    expect(d.status).toBe('cancelled');
    expect(d.report).toMatchObject({ partial: false, included: 1, expected: 4 });
  });

  it('delete: 409 while an experiment is unfinished; after cancel 204, every row and artifact folder gone, then 404', async () => {
    const s = (await post(study2x2('to-delete'))).json();
    const ids = s.experiments as string[];
    const repos = t.deps.repos;
    // One succeeded with metrics, an artifact file and a log line; one running; two queued.
    await repos.experiments.transition(ids[0]!, ['queued'], 'running');
    const [run] = await repos.runs.ensureRuns(ids[0]!, [1]);
    await repos.runs.recordEpoch(run!.id, {
      epoch: 1,
      trainLoss: 1,
      trainAccuracy: 0.5,
      learningRate: 0.1,
      record: {},
      seconds: 1,
    });
    const folder = join(t.config.artifactDir, ids[0]!);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'report.json'), '{}');
    await repos.results.recordArtifact(ids[0]!, {
      name: 'report.json',
      path: `${ids[0]}/report.json`,
      sha256: '0'.repeat(64),
      size: 2,
    });
    await repos.results.appendLog(ids[0]!, 'info', 'done');
    await repos.results.saveReport(ids[0]!, sampleReport());
    await repos.experiments.transition(ids[0]!, ['running'], 'succeeded');
    await repos.experiments.transition(ids[1]!, ['queued'], 'running');

    const del = (headers = auth()) => t.app.inject({ method: 'DELETE', url: `/v1/studies/${s.id}`, headers });
    const r409 = await del();
    expect(r409.statusCode).toBe(409);
    expect(r409.json().code).toBe('CONFLICT');
    expect(r409.json().message).toBe(
      `study ${s.id} has unfinished experiments (2 queued, 1 running); cancel it before deleting`,
    );
    expect((await del(auth(otherKey))).statusCode).toBe(404);
    expect(await t.deps.db.experiment.count({ where: { studyId: s.id } })).toBe(4);
    expect(await t.deps.db.study.findUnique({ where: { id: s.id } })).not.toBeNull();

    expect(
      (await t.app.inject({ method: 'POST', url: `/v1/studies/${s.id}/cancel`, headers: auth() })).statusCode,
    ).toBe(200);
    const r = await del();
    expect(r.statusCode, r.body).toBe(204);
    expect(r.body).toBe('');
    // Checked in PostgreSQL itself: the study, its experiments and everything that hung off them.
    const left = await t.deps.db.pool.query(
      `SELECT (SELECT count(*) FROM studies WHERE id = $1::uuid)::int AS studies,
              (SELECT count(*) FROM experiments WHERE id = ANY($2::uuid[]) OR study_id = $1::uuid)::int AS experiments,
              (SELECT count(*) FROM jobs WHERE experiment_id = ANY($2::uuid[]))::int AS jobs,
              (SELECT count(*) FROM runs WHERE experiment_id = ANY($2::uuid[]))::int AS runs,
              (SELECT count(*) FROM epoch_metrics WHERE run_id = $3::uuid)::int AS epochs,
              (SELECT count(*) FROM reports WHERE experiment_id = ANY($2::uuid[]))::int AS reports,
              (SELECT count(*) FROM artifacts WHERE experiment_id = ANY($2::uuid[]))::int AS artifacts,
              (SELECT count(*) FROM job_logs WHERE experiment_id = ANY($2::uuid[]))::int AS logs`,
      [s.id, ids, run!.id],
    );
    expect(left.rows[0]).toEqual({
      studies: 0,
      experiments: 0,
      jobs: 0,
      runs: 0,
      epochs: 0,
      reports: 0,
      artifacts: 0,
      logs: 0,
    });
    expect(existsSync(folder)).toBe(false);
    expect((await t.app.inject({ url: `/v1/studies/${s.id}`, headers: auth() })).statusCode).toBe(404);
    expect((await del()).statusCode).toBe(404);
    expect(
      (await t.app.inject({ method: 'POST', url: `/v1/studies/${s.id}/cancel`, headers: auth() })).statusCode,
    ).toBe(404);
    expect((await t.app.inject({ url: `/v1/experiments/${ids[0]}`, headers: auth() })).statusCode).toBe(404);
  });

  it('delete is one transaction: a failure after the experiments were deleted keeps the study and all of them', async () => {
    const s = (await post(study2x2('half-delete'))).json();
    await t.app.inject({ method: 'POST', url: `/v1/studies/${s.id}/cancel`, headers: auth() });
    const folder = join(t.config.artifactDir, s.experiments[0]);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.json'), '{}');
    // The study row refuses to be deleted: its experiments are deleted first in the same transaction.
    await t.deps.db.$executeRawUnsafe(
      `CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`,
    );
    await t.deps.db.$executeRawUnsafe(
      'CREATE TRIGGER refuse_study_delete BEFORE DELETE ON studies FOR EACH ROW EXECUTE FUNCTION refuse_delete()',
    );
    try {
      const r = await t.app.inject({ method: 'DELETE', url: `/v1/studies/${s.id}`, headers: auth() });
      expect(r.statusCode).toBe(500);
      expect(r.json().code).toBe('INTERNAL');
      const rows = await t.deps.db.experiment.findMany({ where: { studyId: s.id } });
      expect(rows.map((e) => e.id).sort()).toEqual([...s.experiments].sort());
      expect(await t.deps.db.job.count({ where: { experimentId: { in: s.experiments } } })).toBe(4);
      expect(existsSync(join(folder, 'model.json'))).toBe(true);
    } finally {
      await t.deps.db.$executeRawUnsafe('DROP TRIGGER refuse_study_delete ON studies');
      await t.deps.db.$executeRawUnsafe('DROP FUNCTION refuse_delete()');
    }
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/studies/${s.id}`, headers: auth() })).statusCode).toBe(
      204,
    );
    expect(await t.deps.db.experiment.count({ where: { id: { in: s.experiments } } })).toBe(0);
    expect(existsSync(folder)).toBe(false);
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
    expect(Object.keys(doc.paths['/v1/studies/{id}/cancel'].post.responses)).toEqual(
      expect.arrayContaining(['200', '401', '403', '404']),
    );
    expect(Object.keys(doc.paths['/v1/studies/{id}'].delete.responses)).toEqual(
      expect.arrayContaining(['204', '401', '403', '404', '409']),
    );
    const deref = (s: { $ref?: string }) => (s.$ref ? doc.components.schemas[s.$ref.split('/').pop()!] : s);
    const detail = deref(doc.paths['/v1/studies/{id}'].get.responses['200'].content['application/json'].schema);
    expect(doc.paths['/v1/studies/{id}'].get.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/StudyDetail',
    );
    const report = deref(detail.properties.report.anyOf[0]);
    expect(Object.keys(report.properties)).toEqual(expect.arrayContaining(['partial', 'included', 'expected']));
    const body = deref(doc.paths['/v1/studies'].post.requestBody.content['application/json'].schema);
    expect(Object.keys(body.properties)).toEqual(['name', 'base', 'vary', 'select']);
    expect(doc.paths['/v1/studies'].post.responses['202']).toBeDefined();
  });
});
