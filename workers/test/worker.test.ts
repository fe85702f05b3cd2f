import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeQueues, createDb, createQueues, createRedis, createRepositories, JobDispatcher } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const integration = await integrationEnv('worker');
const env = integration.available ? integration.env : undefined;
const bin = fileURLToPath(new URL('../bin/arcal-worker.js', import.meta.url));

const until = async <T>(f: () => Promise<T | undefined | null | false>, ms = 20_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.skipIf(!env)('arcal-worker process (real PostgreSQL + Redis)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  const redis = env ? createRedis(env.redisUrl, 'producer') : undefined!;
  const queues = env ? createQueues(redis, env.prefix) : undefined!;
  const dispatcher = env ? new JobDispatcher(repos.jobs, queues) : undefined!;
  let worker: ChildProcess;
  let output = '';

  beforeAll(async () => {
    worker = spawn(process.execPath, [bin, '--queues', 'orchestrate', '--concurrency', '2'], {
      env: {
        ...process.env,
        DATABASE_URL: env!.databaseUrl,
        REDIS_URL: env!.redisUrl,
        ARCAL_QUEUE_PREFIX: env!.prefix,
        ARTIFACT_DIR: mkdtempSync(join(tmpdir(), 'arcal-w-')),
        SHUTDOWN_GRACE_SECONDS: '10',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (d) => (output += d));
    worker.stderr!.on('data', (d) => (output += d));
    await until(async () => output.includes('arcal-worker ready'), 60_000);
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await closeQueues(queues);
    redis.disconnect();
    await db.$disconnect();
    await env?.cleanup();
  });

  const newExperiment = async () => {
    const p = await repos.projects.ensureProject('w');
    return (await repos.experiments.createWithJobs({ projectId: p.id, name: 'w', spec: {}, estimate: {} }, () => []))
      .experiment;
  };

  it('runs a job and records its completion in Postgres', async () => {
    const e = await newExperiment();
    const id = `${e.id}-noop`;
    await dispatcher.dispatch([{ id, kind: 'orchestrate:noop', experimentId: e.id, payload: { experimentId: e.id } }]);
    const row = await until(async () => {
      const r = await repos.jobs.get(id);
      return r?.state === 'completed' ? r : null;
    });
    expect(row.result).toEqual({ ok: true });
    expect(row.attempts).toBe(1);
    expect(row.startedAt!.getTime()).toBeLessThanOrEqual(row.finishedAt!.getTime());
  });

  it('bad input fails at once as unrecoverable (one attempt, no retries) and is recorded', async () => {
    const e = await newExperiment();
    const id = `${e.id}-bad`;
    // A job that names no experiment: retrying cannot fix it.
    await repos.jobs.createPending([
      { id, kind: 'orchestrate:noop', experimentId: e.id, payload: { experimentId: e.id } },
    ]);
    await queues.orchestrate.add(
      'noop',
      { nothing: true },
      { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 200 } },
    );
    const row = await until(async () => {
      const r = await repos.jobs.get(id);
      return r?.state === 'failed' ? r : null;
    });
    expect(row.attempts).toBe(1);
    expect((row.error as { message: string }).message).toMatch(/no experimentId/);
    const job = await queues.orchestrate.getJob(id);
    expect(job?.attemptsMade).toBe(1);
    const failed = await until(async () => {
      const x = await db.experiment.findUniqueOrThrow({ where: { id: e.id } });
      return x.status === 'failed' ? x : null;
    });
    expect((failed.error as { message: string }).message).toMatch(/orchestrate:noop failed/);
  });

  it('jobs of a cancelled experiment are skipped, not run', async () => {
    const e = await newExperiment();
    await repos.experiments.transition(e.id, ['queued'], 'cancelled');
    const id = `${e.id}-after-cancel`;
    await dispatcher.dispatch([{ id, kind: 'orchestrate:start', experimentId: e.id, payload: { experimentId: e.id } }]);
    // read the job again once it is completed: a job object fetched just before completion has no return value
    const job = await until(async () => {
      const j = await queues.orchestrate.getJob(id);
      return (await j?.isCompleted()) ? await queues.orchestrate.getJob(id) : null;
    });
    expect(job?.returnvalue).toEqual({ skipped: 'experiment is cancelled' });
    expect(await db.job.count({ where: { experimentId: e.id, queue: 'train' } })).toBe(0);
  });

  it('a job that lost the race with a cancel closes its row instead of leaving it queued', async () => {
    // The order of a cancel racing completion: a finishing job dispatches the next one (row written, enqueued)
    // right after the cancel closed every open row of the experiment.
    const e = await newExperiment();
    await repos.experiments.transition(e.id, ['queued'], 'running');
    await repos.experiments.transition(e.id, ['running'], 'cancelled');
    await repos.jobs.cancelUnfinished(e.id);
    const id = `${e.id}-late`;
    await dispatcher.dispatch([{ id, kind: 'orchestrate:noop', experimentId: e.id, payload: { experimentId: e.id } }]);
    const row = await until(async () => {
      const r = await repos.jobs.get(id);
      return r && r.state !== 'queued' && r.state !== 'pending' && r.state !== 'active' ? r : null;
    });
    expect(row.state).toBe('cancelled');
    expect(row.result).toEqual({ skipped: 'experiment is cancelled' });
    expect(row.finishedAt).not.toBeNull();
  });

  it('SIGTERM: stops gracefully with exit code 0', async () => {
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/stopping: no new jobs/);
  });
});
