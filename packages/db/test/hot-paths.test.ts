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

    // fenced: an earlier start (another attempt number, or the same one started earlier) completes nothing
    const current = { attempts: 2, startedAt: active!.startedAt! };
    for (const stale of [
      { attempts: 1, startedAt: current.startedAt },
      { attempts: 2, startedAt: new Date(current.startedAt.getTime() - 1) },
    ]) {
      expect(await repos.jobs.markCompleted(id, { late: 1 }, stale)).toBe(false);
      expect(await repos.jobs.get(id)).toMatchObject({ state: 'active', result: null, finishedAt: null });
    }
    // markFailed is fenced the same way: a late attempt's failure neither fails nor requeues the newer start
    for (const stale of [
      { attempts: 1, startedAt: current.startedAt },
      { attempts: 2, startedAt: new Date(current.startedAt.getTime() - 1) },
    ]) {
      for (const final of [true, false]) {
        expect(await repos.jobs.markFailed(id, { message: 'late' }, final, stale.attempts, stale)).toBe(false);
        expect(await repos.jobs.get(id)).toMatchObject({ state: 'active', attempts: 2, error: null, finishedAt: null });
      }
    }
    // the fence as it arrives from a compute process (startedAt serialised to a string) holds for its own start
    expect(
      await repos.jobs.markFailed(id, { message: 'own' }, false, 2, {
        ...current,
        startedAt: current.startedAt.toISOString(),
      }),
    ).toBe(true);
    expect(await repos.jobs.get(id)).toMatchObject({ state: 'queued', attempts: 2, error: { message: 'own' } });
    await repos.jobs.start(id, experiment.id, 2);
    const restarted = await repos.jobs.get(id);
    Object.assign(current, { startedAt: restarted!.startedAt! });
    expect(await repos.jobs.markCompleted(id, { ok: 1 }, current)).toBe(true);
    expect(await repos.jobs.get(id)).toMatchObject({ state: 'completed', result: { ok: 1 } });

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

  describe('study submission (one transaction on the pool, multi-row inserts)', () => {
    const specOf = (seed: number) => ({
      name: `grid.seed=${seed}`,
      seed,
      nested: { list: [1, 2.5, null], s: 'é "q"' },
    });
    const grid = [1, 2, 3, 4].map((seed) => ({
      name: `grid.seed=${seed}`,
      spec: specOf(seed),
      estimate: { seconds: seed * 1.5 },
    }));
    const study = (projectId: string, idempotencyKey?: string) => ({
      projectId,
      name: 'grid',
      document: { name: 'grid', base: { a: 1 }, vary: { seed: [1, 2, 3, 4] } },
      points: { varied: ['seed'], experiments: grid.map((g) => ({ name: g.name })) },
      estimate: { seconds: 15, experiments: 4 },
      ...(idempotencyKey ? { idempotencyKey, requestHash: 'b'.repeat(64) } : {}),
    });
    /** A row with the fields that differ by construction (ids, the study link, timestamps) left out. */
    const columns = ({ id: _i, studyId: _s, createdAt: _c, updatedAt: _u, ...rest }: Record<string, unknown>) => rest;
    const jobColumns = (j: Record<string, unknown>) => {
      const { id, experimentId, createdAt: _c, updatedAt: _u, ...rest } = j;
      const own = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll(experimentId as string, '<experiment>'));
      return { ...rest, id: own(id), payload: own(rest.payload) };
    };

    it('writes the rows a single submission writes for the same spec, column by column, linked to the study', async () => {
      const project = await repos.projects.ensureProject('study-rows');
      const r = await repos.studies.createWithExperiments(study(project.id), grid, (id) => [startJob(id)]);
      expect(r.created).toBe(true);
      expect(r.study).toEqual(await db.study.findUniqueOrThrow({ where: { id: r.study.id } }));
      expect(r.study).toMatchObject({ name: 'grid', idempotencyKey: null, requestHash: null });
      expect(r.experiments.map((e) => e.name)).toEqual(grid.map((g) => g.name)); // grid order
      expect(r.jobs.map((j) => j.experimentId)).toEqual(r.experiments.map((e) => e.id));
      for (const [i, g] of grid.entries()) {
        const single = await repos.experiments.createWithJobs({ projectId: project.id, ...g }, (id) => [startJob(id)]);
        const mine = await db.experiment.findUniqueOrThrow({ where: { id: r.experiments[i]!.id } });
        const theirs = await db.experiment.findUniqueOrThrow({ where: { id: single.experiment.id } });
        expect(r.experiments[i]).toEqual(mine); // returned exactly as Prisma reads it
        expect(mine.studyId).toBe(r.study.id);
        expect(theirs.studyId).toBeNull();
        expect(columns(mine)).toEqual(columns(theirs));
        expect(mine.createdAt).toEqual(r.study.createdAt); // one transaction: one now()
        const jobs = async (experimentId: string) =>
          (await db.job.findMany({ where: { experimentId }, orderBy: { id: 'asc' } })).map(jobColumns);
        const mineJobs = await jobs(mine.id);
        expect(mineJobs).toHaveLength(1);
        expect(mineJobs).toEqual(await jobs(theirs.id));
        expect(mineJobs[0]).toMatchObject({ state: 'pending', queue: 'orchestrate', name: 'start', attempts: 0 });
      }
    });

    it('a failure midway (a job row refused by a trigger) leaves no study, experiment or job row', async () => {
      const project = await repos.projects.ensureProject('study-atomic');
      await db.$executeRawUnsafe(
        `CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`,
      );
      await db.$executeRawUnsafe(
        `CREATE TRIGGER refuse_boom_job BEFORE INSERT ON jobs FOR EACH ROW WHEN (NEW.payload ? 'boom') EXECUTE FUNCTION refuse_job()`,
      );
      try {
        // The third experiment's job is refused, after the study row and every experiment row were inserted.
        let n = 0;
        await expect(
          repos.studies.createWithExperiments(study(project.id, 'atomic'), grid, (id) => [
            n++ === 2 ? { ...startJob(id), payload: { experimentId: id, boom: true } } : startJob(id),
          ]),
        ).rejects.toThrow(/refused/);
        // A duplicate job id (a constraint violation in the same statement) likewise.
        await expect(
          repos.studies.createWithExperiments(study(project.id), grid, (id) => [{ ...startJob(id), id: 'same-job' }]),
        ).rejects.toThrow(/duplicate key/);
      } finally {
        await db.$executeRawUnsafe('DROP TRIGGER refuse_boom_job ON jobs');
        await db.$executeRawUnsafe('DROP FUNCTION refuse_job()');
      }
      expect(await db.study.count({ where: { projectId: project.id } })).toBe(0);
      expect(await db.experiment.count({ where: { projectId: project.id } })).toBe(0);
      expect(await db.job.count({ where: { experiment: { projectId: project.id } } })).toBe(0);
      // The key of the failed attempt is free, and the pool's connections are usable.
      const again = await repos.studies.createWithExperiments(study(project.id, 'atomic'), grid, (id) => [
        startJob(id),
      ]);
      expect(again.created).toBe(true);
      expect(await db.experiment.count({ where: { projectId: project.id } })).toBe(4);
    });

    it('an idempotent retry, sequential or concurrent, returns the first study and writes nothing more', async () => {
      const project = await repos.projects.ensureProject('study-key');
      const first = await repos.studies.createWithExperiments(study(project.id, 'k'), grid, (id) => [startJob(id)]);
      const retry = await repos.studies.createWithExperiments(study(project.id, 'k'), grid, (id) => [startJob(id)]);
      expect(first.created).toBe(true);
      expect(first.study).toMatchObject({ idempotencyKey: 'k', requestHash: 'b'.repeat(64) });
      expect(retry).toEqual({ created: false, study: first.study, experiments: [], jobs: [] });
      const race = await Promise.all(
        Array.from({ length: 6 }, () =>
          repos.studies.createWithExperiments(study(project.id, 'race'), grid, (id) => [startJob(id)]),
        ),
      );
      expect(race.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(race.map((r) => r.study.id)).size).toBe(1);
      expect(await db.study.count({ where: { projectId: project.id } })).toBe(2);
      expect(await db.experiment.count({ where: { projectId: project.id } })).toBe(8);
      expect(await db.job.count({ where: { experiment: { projectId: project.id } } })).toBe(8);
    });
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
