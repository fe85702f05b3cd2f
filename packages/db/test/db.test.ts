import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeQueues,
  createDb,
  createQueues,
  createRedis,
  createRepositories,
  JobDispatcher,
  jobIds,
  MIGRATIONS_DIR,
  migrate,
  SCHEMA_PATH,
  sqlFromEmpty,
} from '../src/index.ts';
import { integrationEnv } from '../src/testing.ts';

const integration = await integrationEnv('db');
const env = integration.available ? integration.env : undefined;
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('schema files', () => {
  it('the generated client was generated from the current schema.prisma', () => {
    const classTs = readFileSync(new URL('../generated/prisma/internal/class.ts', import.meta.url), 'utf8');
    const m = /"inlineSchema": (".*?[^\\]"),\n/s.exec(classTs);
    expect(m, 'inlineSchema not found in generated client').toBeTruthy();
    expect(JSON.parse(m![1]!)).toBe(readFileSync(SCHEMA_PATH, 'utf8'));
  });
});

afterAll(() => env?.cleanup());

/** Tables, columns, indexes, constraints and enums of a database (column order aside), without Prisma's bookkeeping. */
async function catalog(c: pg.Client) {
  const q = async (sql: string) => (await c.query(sql)).rows;
  return {
    columns: await q(`select table_name, column_name, data_type, udt_name, is_nullable, column_default,
        character_maximum_length, datetime_precision from information_schema.columns
      where table_schema = 'public' and table_name <> '_prisma_migrations' order by table_name, column_name`),
    indexes: await q(`select tablename, indexname, indexdef from pg_indexes
      where schemaname = 'public' and tablename <> '_prisma_migrations' order by indexname`),
    constraints: await q(`select conrelid::regclass::text as "table", conname, pg_get_constraintdef(oid) as def
      from pg_constraint where connamespace = 'public'::regnamespace
        and conrelid <> coalesce(to_regclass('_prisma_migrations'), 0)::oid order by conname`),
    enums: await q(`select t.typname, array_agg(e.enumlabel order by e.enumsortorder) as labels
      from pg_type t join pg_enum e on e.enumtypid = t.oid group by t.typname order by t.typname`),
  };
}

describe.skipIf(!env)('migrations (real PostgreSQL)', () => {
  it('the migrations produce exactly what schema.prisma describes', async () => {
    // What Prisma would create from schema.prisma, applied to a second empty database; both catalogs must agree.
    const expected = await sqlFromEmpty(env!.databaseUrl, readFileSync(SCHEMA_PATH, 'utf8'));
    expect(expected).toMatch(/CREATE TABLE "studies"/);
    const u = new URL(env!.databaseUrl);
    const fromSchema = `${u.pathname.slice(1)}_s`.slice(0, 63);
    const admin = new pg.Client({ connectionString: env!.databaseUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${fromSchema}"`);
      const v = new URL(env!.databaseUrl);
      v.pathname = `/${fromSchema}`;
      const c = new pg.Client({ connectionString: v.toString() });
      await c.connect();
      try {
        await c.query(expected);
        const [migrated, described] = [await catalog(admin), await catalog(c)];
        expect(migrated.columns.length).toBeGreaterThan(50);
        expect(migrated).toEqual(described);
      } finally {
        await c.end();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${fromSchema}" WITH (FORCE)`);
      await admin.end();
    }
  });

  it('records each migration in _prisma_migrations with the sha256 of its file, and reapplies nothing', async () => {
    const c = new pg.Client({ connectionString: env!.databaseUrl });
    await c.connect();
    try {
      const { rows } = await c.query(
        'select migration_name, checksum, finished_at from _prisma_migrations order by migration_name',
      );
      const dirs = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
      expect(rows.map((r) => r.migration_name)).toEqual(dirs);
      for (const r of rows) {
        expect(r.checksum).toBe(sha256(readFileSync(join(MIGRATIONS_DIR, r.migration_name, 'migration.sql'))));
        expect(r.finished_at).not.toBeNull();
      }
    } finally {
      await c.end();
    }
    expect(await migrate(env!.databaseUrl)).toEqual([]);
  });
});

describe.skipIf(!env)('repositories (real PostgreSQL)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  afterAll(async () => {
    await db?.$disconnect();
  });

  it('stores only the sha256 of an API key and resolves the key to its project', async () => {
    const k = await repos.projects.createApiKey('alpha');
    const row = await db.apiKey.findUniqueOrThrow({ where: { id: k.id } });
    expect(row.keyHash).toBe(sha256(k.key));
    const all = JSON.stringify(await db.apiKey.findMany());
    expect(all.includes(k.key)).toBe(false);
    const p = await repos.projects.principalForKey(k.key);
    expect(p?.projectName).toBe('alpha');
    expect(await repos.projects.principalForKey(`${k.key}x`)).toBeNull();
    await repos.projects.revokeApiKey(k.id);
    expect(await repos.projects.principalForKey(k.key)).toBeNull();
  });

  it('an idempotency key returns the first experiment and writes nothing more', async () => {
    const project = await repos.projects.ensureProject('idem');
    const make = () =>
      repos.experiments.createWithJobs(
        { projectId: project.id, name: 'e', spec: { a: 1 }, estimate: { s: 1 }, idempotencyKey: 'k1' },
        (id) => [
          { id: jobIds.start(id, 1), kind: 'orchestrate:start', experimentId: id, payload: { experimentId: id } },
        ],
      );
    const a = await make();
    const b = await make();
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.experiment.id).toBe(a.experiment.id);
    expect(await db.experiment.count({ where: { projectId: project.id } })).toBe(1);
    expect(await db.job.count({ where: { experimentId: a.experiment.id } })).toBe(1);
  });

  it('a study writes its experiments (linked, in grid order) and their start jobs at once; its key replays it', async () => {
    const project = await repos.projects.ensureProject('study');
    const make = () =>
      repos.studies.createWithExperiments(
        { projectId: project.id, name: 's', document: { name: 's' }, points: [], estimate: {}, idempotencyKey: 'sk' },
        ['a', 'b', 'c'].map((n) => ({ name: n, spec: { n }, estimate: { seconds: 1 } })),
        (id) => [
          { id: jobIds.start(id, 1), kind: 'orchestrate:start', experimentId: id, payload: { experimentId: id } },
        ],
      );
    const a = await make();
    expect(a.created).toBe(true);
    expect(a.experiments.map((e) => e.name)).toEqual(['a', 'b', 'c']);
    expect(a.experiments.map((e) => e.studyId)).toEqual([a.study.id, a.study.id, a.study.id]);
    expect(a.jobs.map((j) => j.experimentId)).toEqual(a.experiments.map((e) => e.id));
    const ids = a.experiments.map((e) => e.id);
    expect(await db.job.count({ where: { experimentId: { in: ids }, state: 'pending' } })).toBe(3);
    const b = await make();
    expect([b.created, b.study.id]).toEqual([false, a.study.id]);
    expect(await db.study.count({ where: { projectId: project.id } })).toBe(1);
    expect(await db.experiment.count({ where: { projectId: project.id } })).toBe(3);

    await repos.experiments.transition(ids[0]!, ['queued'], 'running');
    expect((await repos.studies.statusCounts([a.study.id])).get(a.study.id)).toEqual({ queued: 2, running: 1 });
    await repos.experiments.delete(ids[2]!);
    expect((await repos.studies.experiments(a.study.id)).map((e) => e.name).sort()).toEqual(['a', 'b']);
    expect(await repos.studies.findForProject(a.study.id, project.id)).not.toBeNull();
    const other = await repos.projects.ensureProject('study-other');
    expect(await repos.studies.findForProject(a.study.id, other.id)).toBeNull();
    // The jobs of this test stay pending: the repair test below counts every pending row.
  });

  it('epoch metrics are unique per (run, epoch): recording twice keeps one row with the latest values', async () => {
    const project = await repos.projects.ensureProject('metrics');
    const { experiment } = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 'm', spec: {}, estimate: {} },
      () => [],
    );
    const [run] = await repos.runs.ensureRuns(experiment.id, [11, 12]);
    const base = { epoch: 0, trainLoss: 1, trainAccuracy: 0.5, learningRate: 0.1, record: {}, seconds: 1 };
    await repos.runs.recordEpoch(run!.id, base);
    await repos.runs.recordEpoch(run!.id, { ...base, trainLoss: 0.25 });
    const rows = await repos.runs.metricsForExperiment(experiment.id);
    expect(rows.length).toBe(1);
    expect(rows[0]!.trainLoss).toBe(0.25);
    expect((await repos.runs.ensureRuns(experiment.id, [11, 12])).map((r) => r.seed)).toEqual([11, 12]);
    await repos.runs.recordShard(experiment.id, { split: 'train', shard: 0, start: 0, end: 10 });
    await repos.runs.recordShard(experiment.id, { split: 'train', shard: 0, start: 0, end: 10, result: { n: 10 } });
    expect((await repos.runs.shardsForExperiment(experiment.id)).length).toBe(1);
  });

  it('enqueue after commit: a pending row left by a crash is enqueued by repair, once, under the same id', async () => {
    const project = await repos.projects.ensureProject('dispatch');
    const { experiment, jobs } = await repos.experiments.createWithJobs(
      { projectId: project.id, name: 'd', spec: {}, estimate: {} },
      (id) => [{ id: jobIds.start(id, 1), kind: 'orchestrate:start', experimentId: id, payload: { experimentId: id } }],
    );
    const redis = createRedis(env!.redisUrl, 'producer');
    const queues = createQueues(redis, env!.prefix);
    const dispatcher = new JobDispatcher(repos.jobs, queues);
    try {
      // The "crash": rows committed, nothing enqueued.
      expect((await repos.jobs.get(jobs[0]!.id))?.state).toBe('pending');
      const pending = await db.job.count({ where: { state: 'pending' } }); // this row plus those of earlier tests
      expect(pending).toBeGreaterThanOrEqual(1);
      expect(await dispatcher.repairPending(0)).toBe(pending);
      expect(await dispatcher.repairPending(0)).toBe(0);
      await dispatcher.dispatch(jobs); // a repeated dispatch is harmless
      const q = new Queue('orchestrate', { connection: redis, prefix: env!.prefix });
      expect(await q.getJobCountByTypes('waiting')).toBe(pending); // no duplicates from the second dispatch
      const job = await q.getJob(jobs[0]!.id);
      expect(job?.data).toEqual({ experimentId: experiment.id });
      expect((await repos.jobs.get(jobs[0]!.id))?.state).toBe('queued');
      await q.close();
    } finally {
      await closeQueues(queues);
      redis.disconnect();
    }
  });
});
