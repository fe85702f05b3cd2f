/**
 * Hand-offs through the artifact store (workers/src/handoff.ts) with two "hosts": each has its own job folders
 * and read cache, and they share only the store (here a folder that neither uses as its job folder) and
 * PostgreSQL. Checks what a job sees of the store, what it publishes and when, the read cache, and the fence
 * that refuses a late writer's outputs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, createRepositories, type JobRequest } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { createArtifactStore, ReadCache, readAll } from '@arcal/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { type S3TestServer, startS3Server } from '../../packages/storage/test/s3-server.ts';
import { loadWorkerConfig, sandboxConfig } from '../src/config.ts';
import type { WorkerContext } from '../src/context.ts';
import { createHandoff, type Handoff, removeOrphans, runWithHandoff, StaleWriterError } from '../src/handoff.ts';
import { type Handler, type HandlerArgs, type HandlerTable, runJob } from '../src/run-job.ts';

const integration = await integrationEnv('handoff');
const env = integration.available ? integration.env : undefined;

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `arcal-handoff-${name}-`));

// after every describe's own clients have disconnected
afterAll(async () => {
  await env?.cleanup();
});

describe.skipIf(!env)('hand-offs through the artifact store (two hosts, one store, PostgreSQL)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  const storeDir = tmp('store');

  afterAll(async () => {
    await db?.$disconnect();
  });

  /** A host: its own job folders and cache, the shared store and database. */
  const host = async (name: string): Promise<Handoff> =>
    createHandoff(
      { kind: 'file', dir: storeDir },
      { dir: tmp(`${name}-cache`), maxBytes: 2 ** 30 },
      repos.objects,
      tmp(`${name}-work`),
    );

  /** What a writer outside the jobs sees: the store with its records. */
  const seeding = () => createArtifactStore({ kind: 'file', dir: storeDir }, repos.objects);
  const content = async (key: string) => (await readAll((await (await seeding()).get(key)).body)).toString();

  const newExperiment = async (jobs: (id: string) => JobRequest[] = () => []) => {
    const p = await repos.projects.ensureProject('handoff');
    return (await repos.experiments.createWithJobs({ projectId: p.id, name: 'h', spec: {}, estimate: {} }, jobs))
      .experiment;
  };

  /** A worker context whose dispatcher records what was dispatched. */
  const contextOf = (dispatched: unknown[][], onDispatch?: () => Promise<void>): WorkerContext =>
    ({
      config: { artifactDir: '/nonexistent-shared-folder' },
      repos,
      dispatcher: {
        async dispatch(p: unknown[]) {
          await onDispatch?.();
          dispatched.push(p);
          return p;
        },
      },
      events: { publish: async () => {} },
      log: () => {},
      close: async () => {},
    }) as unknown as WorkerContext;

  const run = (
    h: Handoff,
    ctx: WorkerContext,
    experimentId: string,
    kind: Parameters<typeof runWithHandoff>[1],
    payload: object,
    handler: Handler,
    jobId?: string,
  ) =>
    runWithHandoff(h, kind, handler, {
      ctx,
      payload: { experimentId, ...payload },
      job: { id: jobId, name: kind.split(':')[1]!, queueName: kind.split(':')[0]!, data: {}, attemptsMade: 0 },
      experiment: { id: experimentId, spec: { ensemble: { members: 2 } } },
    } as unknown as HandlerArgs<never>);

  it("copies in only its kind's reads, publishes what it changed under its writes before it dispatches, and leaves no folder", async () => {
    const e = await newExperiment();
    const id = e.id;
    const s = await seeding();
    await s.put(`${id}/reference/robustness-train.json`, Buffer.from('{"norms":[1,2]}'));
    await s.put(`${id}/members/m1/checkpoint.bin`, Buffer.from('epoch 1'));
    await s.put(`${id}/members/m0/checkpoint.bin`, Buffer.from('member 0'));
    await s.put(`${id}/joint.json`, Buffer.from('{}'));

    const a = await host('a');
    const dispatched: unknown[][] = [];
    let seenAtDispatch = '';
    let root = '';
    const ctx = contextOf(dispatched, async () => {
      seenAtDispatch = await content(`${id}/members/m1/checkpoint.bin`);
    });
    const result = await run(a, ctx, id, 'train:member', { member: 1 }, async ({ ctx: jobCtx }) => {
      root = jobCtx.config.artifactDir;
      const dir = join(root, id);
      const present = (p: string) => existsSync(join(dir, p));
      expect([
        present('reference/robustness-train.json'),
        present('members/m1/checkpoint.bin'),
        present('members/m0/checkpoint.bin'),
        present('joint.json'),
      ]).toEqual([true, true, false, false]);
      expect(await readFile(join(dir, 'members/m1/checkpoint.bin'), 'utf8')).toBe('epoch 1');
      await writeFile(join(dir, 'members/m1/checkpoint.bin'), 'epoch 2');
      await writeFile(join(dir, 'members/m1/checkpoint.bin.123.ab.tmp'), 'half');
      await writeFile(join(dir, 'members/m1/notes.json'), '{"n":1}');
      // not under train:member's writes: stays local
      await writeFile(join(dir, 'reference/robustness-train.json'), 'changed');
      await jobCtx.dispatcher.dispatch([{ next: true }] as never);
      return { done: true };
    });
    expect(result).toEqual({ done: true });
    expect(dispatched).toEqual([[{ next: true }]]);
    // published before the next job could be told about it
    expect(seenAtDispatch).toBe('epoch 2');
    expect((await s.head(`${id}/members/m1/checkpoint.bin`))?.sha256).toBe(sha('epoch 2'));
    expect(await content(`${id}/members/m1/notes.json`)).toBe('{"n":1}');
    expect(await content(`${id}/reference/robustness-train.json`)).toBe('{"norms":[1,2]}');
    expect((await s.list(`${id}/`)).map((r) => r.key)).toEqual(
      [
        'joint.json',
        'members/m0/checkpoint.bin',
        'members/m1/checkpoint.bin',
        'members/m1/notes.json',
        'reference/robustness-train.json',
      ].map((k) => `${id}/${k}`),
    );
    expect(root.startsWith(a.workDir)).toBe(true);
    expect(existsSync(root)).toBe(false);
    expect(a.cache.stats.downloads).toBe(2);
  });

  it("an epoch's record is stored only after the checkpoint written before it is in the store", async () => {
    const e = await newExperiment();
    const id = e.id;
    const key = `${id}/members/m0/checkpoint.bin`;
    const atRecord: string[] = [];
    const base = contextOf([]);
    const runs = Object.create(repos.runs) as WorkerContext['repos']['runs'];
    runs.recordEpoch = async () => {
      atRecord.push(await content(key));
    };
    const ctx = { ...base, repos: { ...repos, runs } } as WorkerContext;
    await run(await host('epochs'), ctx, id, 'train:member', { member: 0 }, async ({ ctx: jobCtx }) => {
      const dir = join(jobCtx.config.artifactDir, id, 'members/m0');
      await mkdir(dir, { recursive: true });
      for (const epoch of [1, 2]) {
        await writeFile(join(dir, 'checkpoint.bin'), `epoch ${epoch}`);
        await jobCtx.repos.runs.recordEpoch('run', { epoch } as never);
      }
      return null;
    });
    expect(atRecord).toEqual(['epoch 1', 'epoch 2']);
  });

  it('a job on another host reads what the first published; a repeat on that host downloads nothing again', async () => {
    const e = await newExperiment();
    const id = e.id;
    const s = await seeding();
    await s.put(`${id}/reference/model/checkpoint.bin`, Buffer.from('reference'));
    const a = await host('a2');
    const b = await host('b2');
    await run(a, contextOf([]), id, 'train:vanilla', {}, async ({ ctx }) => {
      await writeFile(join(ctx.config.artifactDir, id, 'reference/model/checkpoint.bin'), 'trained reference');
      return null;
    });
    const read = async () => {
      let got = '';
      await run(b, contextOf([]), id, 'attack:robustness-shard', { split: 'train', shard: 0 }, async ({ ctx }) => {
        got = await readFile(join(ctx.config.artifactDir, id, 'reference/model/checkpoint.bin'), 'utf8');
        await mkdir(join(ctx.config.artifactDir, id, 'reference/shards'), { recursive: true });
        await writeFile(join(ctx.config.artifactDir, id, 'reference/shards/robustness-train-0.json'), '{"n":0}');
        return null;
      });
      return got;
    };
    expect(await read()).toBe('trained reference');
    expect(b.cache.stats).toMatchObject({ downloads: 1, hits: 0 });
    // the second time its own shard file is an input too (robustnessOf reuses a finished shard)
    expect(await read()).toBe('trained reference');
    expect(b.cache.stats).toMatchObject({ downloads: 2, hits: 1 });
    expect(await content(`${id}/reference/shards/robustness-train-0.json`)).toBe('{"n":0}');
    expect(readdirSync(b.workDir)).toEqual([]);
  });

  it("refuses a late writer's outputs once a newer start of its job has begun, keeping the newer results", async () => {
    const jobId = 'fenced-member-0';
    const e = await newExperiment((id) => [
      { id: `${id}-${jobId}`, kind: 'train:member', experimentId: id, payload: { experimentId: id, member: 0 } },
    ]);
    const id = e.id;
    const job = `${id}-${jobId}`;
    const key = `${id}/members/m0/checkpoint.bin`;
    const a = await host('a3');
    const b = await host('b3');

    expect(await repos.jobs.start(job, id, 1)).not.toBeNull();
    const first = await repos.objects.fenceOf(job);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const started = new Promise<void>((r) => {
      entered = r;
    });
    const late = run(
      a,
      contextOf([]),
      id,
      'train:member',
      { member: 0 },
      async ({ ctx }) => {
        entered();
        await gate;
        await mkdir(join(ctx.config.artifactDir, id, 'members/m0'), { recursive: true });
        await writeFile(join(ctx.config.artifactDir, id, 'members/m0/checkpoint.bin'), 'stale');
        return null;
      },
      job,
    ).catch((err: unknown) => err);
    // the job's handler has begun and holds its fence
    await started;

    // its lock expired: the job starts again elsewhere (same attempt number, as after a stall), and finishes
    let second = await repos.objects.fenceOf(job);
    while (second!.startedAt.getTime() === first!.startedAt.getTime()) {
      await repos.jobs.start(job, id, 1);
      second = await repos.objects.fenceOf(job);
    }
    await run(
      b,
      contextOf([]),
      id,
      'train:member',
      { member: 0 },
      async ({ ctx }) => {
        await mkdir(join(ctx.config.artifactDir, id, 'members/m0'), { recursive: true });
        await writeFile(join(ctx.config.artifactDir, id, 'members/m0/checkpoint.bin'), 'newer');
        return null;
      },
      job,
    );
    release();
    const err = await late;
    expect(err).toBeInstanceOf(StaleWriterError);
    expect((err as Error).message).toContain(key);
    expect(await content(key)).toBe('newer');
    expect((await repos.objects.get(key))?.sha256).toBe(sha('newer'));
    // the record statement's own check, even where the check before the upload passed
    expect(await repos.objects.upsertFenced({ key, sha256: sha('stale'), size: 5, contentType: 'x' }, first!)).toBe(
      false,
    );
    expect(await repos.objects.upsertFenced({ key, sha256: sha('newer'), size: 5, contentType: 'x' }, second!)).toBe(
      true,
    );
    expect((await repos.objects.get(key))?.sha256).toBe(sha('newer'));
  });
  it('an attempt that returns after its job was started again does not mark the row completed', async () => {
    const e = await newExperiment((id) => [
      { id: `${id}-late-done`, kind: 'train:member', experimentId: id, payload: { experimentId: id, member: 1 } },
    ]);
    const job = `${e.id}-late-done`;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const handlers = {
      'train:member': async () => {
        entered();
        await gate;
        return { from: 'late attempt' };
      },
    } as unknown as HandlerTable;
    const late = runJob(contextOf([]), handlers, {
      id: job,
      name: 'member',
      queueName: 'train',
      data: { experimentId: e.id, member: 1 },
      attemptsMade: 0,
    } as never).catch((err: unknown) => err);
    await Promise.race([inHandler, late]);
    // its lock expired: the job is started again (the second attempt), which is still running
    expect(await repos.jobs.start(job, e.id, 2)).not.toBeNull();
    release();
    const err = await late;
    expect(err).toBeInstanceOf(StaleWriterError);
    expect((err as Error).message).toBe(
      `job ${job}: a newer attempt has started, so this attempt's completion is refused`,
    );
    expect(await repos.jobs.get(job)).toMatchObject({ state: 'active', attempts: 2, result: null, finishedAt: null });
  });
});

describe.skipIf(!env)('hand-offs through an S3 bucket (s3rver): a late writer cannot replace recorded bytes', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  let s3: S3TestServer | undefined;

  afterAll(async () => {
    await s3?.stop();
    await db?.$disconnect();
  });

  it('an attempt that passed the fence check just before a takeover uploads, is refused, and readers still get the newer bytes', async (ctx) => {
    const started = await startS3Server();
    if (!started.available) return ctx.skip();
    s3 = started.server;
    const config = { kind: 's3' as const, ...s3.location('late') };
    const host = async (name: string, objects = repos.objects) =>
      createHandoff(config, { dir: tmp(`${name}-cache`), maxBytes: 2 ** 30 }, objects, tmp(`${name}-work`));
    const p = await repos.projects.ensureProject('handoff-s3');
    const e = (
      await repos.experiments.createWithJobs({ projectId: p.id, name: 'h', spec: {}, estimate: {} }, (id) => [
        { id: `${id}-m0`, kind: 'train:member', experimentId: id, payload: { experimentId: id, member: 0 } },
      ])
    ).experiment;
    const id = e.id;
    const job = `${id}-m0`;
    const key = `${id}/members/m0/checkpoint.bin`;
    const args = (h: Handoff, write: string, gate?: Promise<void>, entered?: () => void) =>
      runWithHandoff(
        h,
        'train:member',
        async ({ ctx: jobCtx }) => {
          entered?.();
          await gate;
          await mkdir(join(jobCtx.config.artifactDir, id, 'members/m0'), { recursive: true });
          await writeFile(join(jobCtx.config.artifactDir, id, 'members/m0/checkpoint.bin'), write);
          return null;
        },
        {
          ctx: { config: {}, repos, dispatcher: { dispatch: async (x: unknown) => x }, log: () => {} },
          payload: { experimentId: id, member: 0 },
          job: { id: job, name: 'member', queueName: 'train', data: {}, attemptsMade: 0 },
          experiment: { id, spec: { ensemble: { members: 2 } } },
        } as unknown as HandlerArgs<never>,
      );

    expect(await repos.jobs.start(job, id, 1)).not.toBeNull();
    const first = await repos.objects.fenceOf(job);
    // the late attempt's check before its upload passes: it ran just before the takeover
    const passing = Object.assign(Object.create(repos.objects) as typeof repos.objects, {
      fenceHolds: async () => true,
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const late = args(await host('late-a', passing), 'stale bytes of the late attempt', gate, entered).catch(
      (err: unknown) => err,
    );
    await Promise.race([inHandler, late]);
    let second = await repos.objects.fenceOf(job);
    while (second!.startedAt.getTime() === first!.startedAt.getTime()) {
      await repos.jobs.start(job, id, 1);
      second = await repos.objects.fenceOf(job);
    }
    await args(await host('newer-b'), 'newer');
    const recorded = await repos.objects.get(key);
    expect(recorded?.sha256).toBe(sha('newer'));
    release();
    const err = await late;
    expect(err).toBeInstanceOf(StaleWriterError);
    // its upload happened (under a name of its own) and nothing points to it
    expect(await repos.objects.get(key)).toEqual(recorded);
    // a reader on a third host checks the bytes against the record's sha256 while downloading
    const reader = await host('reader-c');
    const got = await new ReadCache(reader.store, reader.cache.config).fetch(key);
    expect(await readFile(got.path, 'utf8')).toBe('newer');
    expect(got.record.sha256).toBe(sha('newer'));
    // the late upload is an orphan, which the sweep removes once past its grace period
    const swept = await reader.store.sweep({ graceMs: 60_000, now: new Date(Date.now() + 120_000) });
    expect(swept.removed.filter((k) => k.startsWith(`${key}~`))).toHaveLength(1);
    expect(swept.removed).not.toContain(recorded!.location);
    expect((await readAll((await reader.store.get(key)).body)).toString()).toBe('newer');
  });
});

describe('job folders of processes that died', () => {
  it('are removed when a process sets up its hand-offs; those of live processes stay', async () => {
    const workDir = tmp('orphans');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((ok) => child.once('exit', () => ok(child.pid!)));
    for (const name of [`${deadPid}.job-a.0011aabb`, `${process.pid}.job-b.2233ccdd`, 'not-a-job-folder'])
      await mkdir(join(workDir, name, 'e', 'members'), { recursive: true });
    expect(await removeOrphans(workDir)).toBe(1);
    expect(readdirSync(workDir).sort()).toEqual([`${process.pid}.job-b.2233ccdd`, 'not-a-job-folder']);
  });
});

describe('the worker reads the artifact store from the environment', () => {
  it('S3 from ARTIFACT_URL, with the job folders and cache of this host; a local folder stays the default', () => {
    const s3 = sandboxConfig({
      ARTIFACT_URL: 's3://bucket/team/a',
      AWS_ENDPOINT_URL: 'http://minio:9000',
      ARCAL_WORK_DIR: '/scratch/work',
      ARCAL_CACHE_DIR: '/scratch/cache',
    });
    expect(s3.artifact).toMatchObject({
      kind: 's3',
      bucket: 'bucket',
      prefix: 'team/a/',
      endpoint: 'http://minio:9000',
    });
    expect([s3.workDir, s3.cache?.dir]).toEqual(['/scratch/work', '/scratch/cache']);
    expect(sandboxConfig({ ARTIFACT_URL: 'file:///srv/arcal' })).toMatchObject({
      artifactDir: '/srv/arcal',
      artifact: { kind: 'file', dir: '/srv/arcal' },
    });
    expect(sandboxConfig({ ARTIFACT_DIR: '/srv/runs' }).artifact).toEqual({ kind: 'file', dir: '/srv/runs' });
    expect(() => loadWorkerConfig([], { ARTIFACT_URL: 'ftp://x/y' })).toThrow(/ARTIFACT_URL: unsupported scheme/);
  });
});
