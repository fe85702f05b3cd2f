/**
 * The hand-written statements of the hot paths (repositories/sql.ts) against a real PostgreSQL and Redis:
 * rows read back through Prisma are the reference for shape and types, and each guarantee the ORM code gave
 * (idempotency under races, jobs only for a live experiment, results kept or replaced) is checked directly.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeQueues,
  createDb,
  createQueues,
  createRedis,
  createRepositories,
  JobDispatcher,
  type JobRequest,
  jobIds,
} from '../src/index.ts';
import { integrationEnv } from '../src/testing.ts';

const integration = await integrationEnv('db_hot_paths');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const startJob = (id: string): JobRequest => ({
  id: jobIds.start(id, 1),
  kind: 'orchestrate:start',
  experimentId: id,
  payload: { experimentId: id },
});

describe.skipIf(!env)('hot-path statements (real PostgreSQL)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  afterAll(async () => {
    await db?.$disconnect();
  });

  it('createWithJobs returns the row exactly as Prisma reads it, and writes its job rows pending', async () => {
    const project = await repos.projects.ensureProject('shape');
    const spec = { name: 'é ✓ "quoted"', nested: { list: [1, 2.5, null, true], empty: {} }, n: -0.125 };
    const r = await repos.experiments.createWithJobs(
      {
        projectId: project.id,
        name: 'shape',
        spec,
        estimate: { seconds: 12.5 },
        idempotencyKey: 'k',
        requestHash: 'a'.repeat(64),
      },
      (id) => [
        startJob(id),
        { id: `${id}-other`, kind: 'orchestrate:noop', experimentId: id, payload: { experimentId: id } },
      ],
    );
    expect(r.created).toBe(true);
    const stored = await db.experiment.findUniqueOrThrow({ where: { id: r.experiment.id } });
    expect(r.experiment).toEqual(stored);
    expect(await repos.experiments.findByIdempotencyKey(project.id, 'k')).toEqual(stored);
    expect(await repos.experiments.findByIdempotencyKey(project.id, 'other')).toBeNull();
    expect(r.experiment.createdAt).toBeInstanceOf(Date);
    expect(stored.spec).toEqual(spec);
    expect(stored).toMatchObject({ status: 'queued', attempt: 1, currentEpoch: 0, studyId: null, error: null });
    const jobs = await db.job.findMany({ where: { experimentId: r.experiment.id }, orderBy: { id: 'asc' } });
    expect(jobs.map((j) => [j.id, j.queue, j.name, j.state, j.payload])).toEqual([
      [`${r.experiment.id}-other`, 'orchestrate', 'noop', 'pending', { experimentId: r.experiment.id }],
      [jobIds.start(r.experiment.id, 1), 'orchestrate', 'start', 'pending', { experimentId: r.experiment.id }],
    ]);
  });

  it('concurrent submissions with one idempotency key write one experiment and one job; all return it', async () => {
    const project = await repos.projects.ensureProject('race');
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        repos.experiments.createWithJobs(
          { projectId: project.id, name: 'race', spec: {}, estimate: {}, idempotencyKey: 'same' },
          (id) => [startJob(id)],
        ),
      ),
    );
    expect(results.filter((r) => r.created).length).toBe(1);
    expect(new Set(results.map((r) => r.experiment.id)).size).toBe(1);
    expect(results.filter((r) => !r.created).every((r) => r.jobs.length === 0)).toBe(true);
    expect(await db.experiment.count({ where: { projectId: project.id } })).toBe(1);
    expect(await db.job.count({ where: { experiment: { projectId: project.id } } })).toBe(1);
    // Without a key, equal submissions are distinct experiments.
    const a = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 'n', spec: {}, estimate: {} },
      () => [],
    );
    const b = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 'n', spec: {}, estimate: {} },
      () => [],
    );
    expect([a.created, b.created, a.experiment.id === b.experiment.id]).toEqual([true, true, false]);
    // The same key in another project is another experiment.
    const other = await repos.projects.ensureProject('race-other');
    const c = await repos.experiments.createWithJobs(
      { projectId: other.id, name: 'race', spec: {}, estimate: {}, idempotencyKey: 'same' },
      () => [],
    );
    expect(c.created).toBe(true);
  });

  it('a failing job insert leaves no experiment behind (one statement, one transaction)', async () => {
    const project = await repos.projects.ensureProject('atomic');
    const first = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 'a', spec: {}, estimate: {} },
      (id) => [{ ...startJob(id), id: 'fixed-job-id' }],
    );
    // A second experiment whose job id collides: the primary key violation aborts the experiment insert too.
    await expect(
      repos.experiments.createWithJobs({ projectId: project.id, name: 'b', spec: {}, estimate: {} }, (id) => [
        { ...startJob(id), id: 'fixed-job-id' },
      ]),
    ).rejects.toThrow(/duplicate key/);
    expect((await db.experiment.findMany({ where: { projectId: project.id } })).map((e) => e.id)).toEqual([
      first.experiment.id,
    ]);
  });

  it('principalForKey and principalForSession: live credentials only', async () => {
    const k = await repos.projects.createApiKey('creds');
    expect(await repos.projects.principalForKey(k.key)).toEqual({
      projectId: k.projectId,
      projectName: 'creds',
      apiKeyId: k.id,
    });
    const live = await repos.projects.createSession(k.id, 60_000);
    const expired = await repos.projects.createSession(k.id, -1);
    const s = await repos.projects.principalForSession(live.token);
    expect(s).toMatchObject({ projectId: k.projectId, projectName: 'creds', apiKeyId: k.id });
    expect(s?.csrfHash).toBe(createHash('sha256').update(live.csrf).digest('hex'));
    expect(await repos.projects.principalForSession(expired.token)).toBeNull();
    expect(await repos.projects.principalForSession('not-a-token')).toBeNull();
    await repos.projects.revokeApiKey(k.id);
    expect(await repos.projects.principalForKey(k.key)).toBeNull();
    expect(await repos.projects.principalForSession(live.token)).toBeNull();
  });

  it('start marks the job active only while its experiment is live, and returns the experiment row', async () => {
    const project = await repos.projects.ensureProject('start');
    const { experiment, jobs } = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 's', spec: { a: 1 }, estimate: {} },
      (id) => [startJob(id)],
    );
    const id = jobs[0]!.id;
    const before = Date.now();
    const row = await repos.jobs.start(id, experiment.id, 2);
    expect(row).toEqual(await db.experiment.findUniqueOrThrow({ where: { id: experiment.id } }));
    const active = await repos.jobs.get(id);
    expect(active).toMatchObject({ state: 'active', attempts: 2, error: null });
    expect(Math.abs(active!.startedAt!.getTime() - before)).toBeLessThan(5_000);

    await repos.jobs.markCompleted(id, { ok: 1 });
    await repos.jobs.markCompleted(id); // no result given: the stored one stays
    expect(await repos.jobs.get(id)).toMatchObject({ state: 'completed', result: { ok: 1 } });
    await repos.jobs.markCompleted(id, null); // an explicit null is stored as JSON null
    expect((await repos.jobs.get(id))?.result).toBeNull();
    expect((await repos.jobs.get(id))?.finishedAt).toBeInstanceOf(Date);

    // A completed job is not made active again; a cancelled experiment's job is left as it is.
    await repos.jobs.start(id, experiment.id, 3);
    expect((await repos.jobs.get(id))?.state).toBe('completed');
    const other = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 't', spec: {}, estimate: {} },
      (eid) => [startJob(eid)],
    );
    await repos.experiments.transition(other.experiment.id, ['queued'], 'cancelled');
    const seen = await repos.jobs.start(other.jobs[0]!.id, other.experiment.id, 1);
    expect(seen?.status).toBe('cancelled');
    expect((await repos.jobs.get(other.jobs[0]!.id))?.state).toBe('pending');
    // Unknown or malformed experiment ids read as missing.
    expect(await repos.jobs.start(id, '00000000-0000-4000-8000-000000000000', 1)).toBeNull();
    expect(await repos.jobs.start(id, 'not-a-uuid', 1)).toBeNull();
  });

  it('start commits asynchronously for its own transaction only: the connection stays synchronous', async () => {
    const one = createDb(env!.databaseUrl, { max: 1 });
    try {
      const r = createRepositories(one);
      const project = await r.projects.ensureProject('sync');
      const { experiment, jobs } = await r.experiments.createWithJobs(
        { projectId: project.id, name: 's', spec: {}, estimate: {} },
        (id) => [startJob(id)],
      );
      await r.jobs.start(jobs[0]!.id, experiment.id, 1);
      expect((await r.jobs.get(jobs[0]!.id))?.state).toBe('active');
      const shown = await one.pool.query('SHOW synchronous_commit');
      expect(shown.rows[0].synchronous_commit).toBe('on');
    } finally {
      await one.$disconnect();
    }
  });
});

describe.skipIf(!env)('dispatcher batches (real PostgreSQL + Redis)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  afterAll(async () => {
    await db?.$disconnect();
  });

  it('concurrent enqueues go to BullMQ together; each call resolves once its jobs are queued and marked', async () => {
    const redis = createRedis(env!.redisUrl, 'producer');
    const prefix = env!.prefix;
    const queues = createQueues(redis, prefix);
    const dispatcher = new JobDispatcher(repos.jobs, queues);
    let addBulkCalls = 0;
    const orchestrate = queues.orchestrate;
    const addBulk = orchestrate.addBulk.bind(orchestrate);
    orchestrate.addBulk = (jobs) => {
      addBulkCalls++;
      return addBulk(jobs);
    };
    try {
      const project = await repos.projects.ensureProject('batch');
      const made = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          repos.experiments.createWithJobs({ projectId: project.id, name: `b${i}`, spec: {}, estimate: {} }, (id) => [
            startJob(id),
          ]),
        ),
      );
      const requests = made.map((m) => m.jobs);
      // All calls in one tick: one batch, one addBulk.
      await Promise.all(requests.map((r) => dispatcher.enqueue(r)));
      expect(addBulkCalls).toBe(1);
      const q = new Queue('orchestrate', { connection: redis, prefix });
      expect(await q.getJobCountByTypes('waiting')).toBe(12);
      const ids = requests.flat().map((r) => r.id);
      expect(await db.job.count({ where: { id: { in: ids }, state: 'queued' } })).toBe(12);

      // A call made while a batch is in flight waits for it and goes in the next batch.
      const extra = await repos.experiments.createWithJobs(
        { projectId: project.id, name: 'late', spec: {}, estimate: {} },
        (id) => [startJob(id)],
      );
      const first = dispatcher.enqueue(requests[0]!); // already queued: BullMQ ignores the id
      await Promise.resolve();
      await Promise.resolve();
      const second = dispatcher.enqueue(extra.jobs);
      await Promise.all([first, second]);
      expect(addBulkCalls).toBe(3);
      expect(await q.getJobCountByTypes('waiting')).toBe(13);
      expect((await repos.jobs.get(extra.jobs[0]!.id))?.state).toBe('queued');

      // A failed batch rejects each of its calls and leaves their rows pending; the next batch works.
      const failing = await Promise.all(
        ['f1', 'f2'].map((n) =>
          repos.experiments.createWithJobs({ projectId: project.id, name: n, spec: {}, estimate: {} }, (id) => [
            startJob(id),
          ]),
        ),
      );
      orchestrate.addBulk = () => Promise.reject(new Error('redis is down'));
      const outcomes = await Promise.allSettled(failing.map((f) => dispatcher.enqueue(f.jobs)));
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      for (const f of failing) expect((await repos.jobs.get(f.jobs[0]!.id))?.state).toBe('pending');
      orchestrate.addBulk = addBulk;
      await dispatcher.enqueue(failing.flatMap((f) => f.jobs));
      expect(await q.getJobCountByTypes('waiting')).toBe(15);
      await q.close();
    } finally {
      await closeQueues(queues);
      redis.disconnect();
    }
  });
});
