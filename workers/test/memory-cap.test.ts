/**
 * The memory cap of sandboxed compute processes (ARCAL_COMPUTE_MEMORY_MB): a job whose data alone needs more than
 * the cap fails at once (one attempt, no retries) with a message that names the cap, and so does its experiment;
 * the worker itself keeps running. The spec goes straight to the queue (the API would refuse it at admission).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateSpec } from '@arcal/contracts';
import { closeQueues, createDb, createQueues, createRedis, createRepositories, JobDispatcher, jobIds } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const integration = await integrationEnv('memory_cap');
const env = integration.available ? integration.env : undefined;
const bin = fileURLToPath(new URL('../bin/arcal-worker.js', import.meta.url));
/** A compute process on the wasm backend holds about 200 MiB before it loads any data. */
const CAP_MB = 280;

/** 4,000 colour images of 32×32 as float32 are 49 MB of pixels alone; generating them takes several times that. */
const bigSpec = {
  name: 'too-big',
  seed: 1,
  dataset: {
    name: 'synthetic',
    classes: 10,
    shape: [32, 32, 3],
    trainLimit: 4000,
    validationSize: 500,
    testLimit: 500,
  },
  model: { arch: 'mlp' },
  training: { epochs: 1, batchSize: 128, optimizer: 'sgd', learningRate: 0.05 },
  method: { kind: 'vanilla' },
  ensemble: { members: 1, mode: 'independent' },
  evaluation: { bins: 10, robustnessSubsets: 0 },
};

describe.skipIf(!env)('compute process memory cap (real PostgreSQL + Redis)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  const redis = env ? createRedis(env.redisUrl, 'producer') : undefined!;
  const queues = env ? createQueues(redis, env.prefix) : undefined!;
  const dispatcher = env ? new JobDispatcher(repos.jobs, queues) : undefined!;
  let worker: ChildProcess;
  let output = '';

  beforeAll(async () => {
    worker = spawn(process.execPath, [bin, '--queues', 'orchestrate,train,evaluate'], {
      env: {
        ...process.env,
        DATABASE_URL: env!.databaseUrl,
        REDIS_URL: env!.redisUrl,
        ARCAL_QUEUE_PREFIX: env!.prefix,
        ARTIFACT_DIR: mkdtempSync(join(tmpdir(), 'arcal-mem-')),
        ARCAL_BACKEND: 'wasm',
        ARCAL_THREADS: '1',
        ARCAL_COMPUTE_MEMORY_MB: String(CAP_MB),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (d) => (output += d));
    worker.stderr!.on('data', (d) => (output += d));
    const end = Date.now() + 60_000;
    while (!output.includes('arcal-worker ready')) {
      if (worker.exitCode !== null || Date.now() > end) throw new Error(`worker did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await closeQueues(queues);
    redis.disconnect();
    await db.$disconnect();
    await env?.cleanup();
  });

  it('a job over the cap fails once, readably, and fails its experiment; the worker lives on', async () => {
    const v = validateSpec(bigSpec);
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    const p = await repos.projects.ensureProject('mem');
    const { experiment: e } = await repos.experiments.createWithJobs(
      { projectId: p.id, name: 'too-big', spec: v.spec, estimate: {} },
      () => [],
    );
    await dispatcher.dispatch([
      { id: jobIds.start(e.id, 1), kind: 'orchestrate:start', experimentId: e.id, payload: { experimentId: e.id } },
    ]);
    let failed = await repos.experiments.get(e.id);
    const end = Date.now() + 120_000;
    while (failed?.status !== 'failed') {
      if (Date.now() > end) throw new Error(`experiment is ${failed?.status}\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
      failed = await repos.experiments.get(e.id);
    }
    const message = (failed.error as { message: string }).message;
    expect(message).toMatch(
      new RegExp(`over its memory cap of ${CAP_MB} MiB|ran out of memory \\(JavaScript heap cap ${CAP_MB} MiB`),
    );
    expect(message).toMatch(/^train:experiment failed: the compute process/);
    const row = (await repos.jobs.get(jobIds.experiment(e.id, 1)))!;
    expect(row.state).toBe('failed');
    expect(row.attempts).toBe(1);
    expect(worker.exitCode).toBeNull();
  }, 150_000);
});
