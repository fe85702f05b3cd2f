/**
 * End to end with no shared folder: the API and two workers share only PostgreSQL, Redis and an S3 bucket (s3rver
 * in its own process). Each worker has its own private ARTIFACT_DIR, job folder (ARCAL_WORK_DIR) and cache, as on
 * two hosts; one takes the orchestrate and train queues, the other attack and evaluate, so every hand-off of the
 * graph (reference checkpoint → robustness shards → merged ranking → member checkpoints → evaluation) crosses
 * from one to the other through the store. A precomputed AR-AdaLS ensemble must store what an inline
 * runExperiment of the same spec gives, also after the host training a member is killed with SIGKILL mid-run and
 * another host takes its job over. Skips loudly without PostgreSQL/Redis or s3rver; fails instead under
 * REQUIRE_INTEGRATION=1 / REQUIRE_S3=1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, createRepositories } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { type ArtifactStore, createArtifactStore } from '@arcal/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3TestServer, startS3Server } from '../../packages/storage/test/s3-server.ts';
import { asMetricRows, comparable, inlineReport, resolve, storedMetricRows } from './compare.ts';
import {
  followEvents,
  numericDiff,
  outcome,
  type Proc,
  type Service,
  startService,
  startWorker,
  until,
  workerEnvOf,
} from './harness.ts';
import { expectSucceededAsInline } from './same-as-inline.ts';

const integration = await integrationEnv('e2e_handoff');
const env = integration.available ? integration.env : undefined;
const s3result = env ? await startS3Server('arcal-handoff') : undefined;
const s3: S3TestServer | undefined = s3result?.available ? s3result.server : undefined;

const PREFIX = 'cluster';

const spec = {
  name: 'e2e-handoff',
  seed: 5,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 128, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.05 },
  method: {
    kind: 'ar-adals',
    subsets: 2,
    alpha: 1,
    robustness: { attack: 'fmn-l2', source: 'precompute', params: { steps: 10, batchSize: 32 } },
  },
  evaluation: { bins: 10, robustnessSubsets: 2, robustness: { reference: 'vanilla' } },
  ensemble: { members: 2, mode: 'independent' },
};

interface Host {
  artifactDir: string;
  workDir: string;
  cacheDir: string;
  worker: Proc & { ready: Promise<void> };
}

describe.skipIf(!env || !s3)(
  'no shared folder: two worker hosts hand off through S3 (API + PostgreSQL + Redis)',
  () => {
    let service: Service;
    const hosts: Host[] = [];
    const db = env && s3 ? createDb(env.databaseUrl) : undefined;
    let store: ArtifactStore;

    /** A worker "host": its own artifact folder, job folders and cache; the bucket, database and Redis shared. */
    const startHost = (name: string, queues: string, extra: Record<string, string>): Host => {
      const own = (what: string) => mkdtempSync(join(tmpdir(), `arcal-${name}-${what}-`));
      const host = { artifactDir: own('artifacts'), workDir: own('work'), cacheDir: own('cache') };
      const worker = startWorker(
        workerEnvOf(env!, host.artifactDir, {
          ...s3!.env(PREFIX),
          ARCAL_WORK_DIR: host.workDir,
          ARCAL_CACHE_DIR: host.cacheDir,
          // two shards for train (128 examples), one each for validation and test
          ARCAL_SHARD_EXAMPLES: '64',
          ...extra,
        }),
        name,
        ['--queues', queues],
      );
      service.workers.push(worker);
      return { ...host, worker };
    };

    beforeAll(async () => {
      service = await startService(env!, { workers: 0, apiEnv: s3!.env(PREFIX) });
      for (const [name, queues] of [
        ['host-a', 'orchestrate,train'],
        ['host-b', 'attack,evaluate'],
      ] as const)
        hosts.push(startHost(name, queues, {}));
      await Promise.all(hosts.map((h) => h.worker.ready));
      store = await createArtifactStore({ kind: 's3', ...s3!.location(PREFIX) }, createRepositories(db!).objects);
    });

    afterAll(async () => {
      await service?.stop();
      await store?.close();
      await db?.$disconnect();
      await s3?.stop();
      await env?.cleanup();
    });

    it('a precomputed AR-AdaLS ensemble succeeds with its shards, ranking and members handed over through the store, equal to inline', async () => {
      const submitted = await service.request('POST', '/v1/experiments', spec);
      expect(submitted.status).toBe(202);
      const id = submitted.body.id as string;
      const { expected } = await expectSucceededAsInline(service, id, spec, 240_000);

      // every hand-off is an object of the store, recorded with its sha256
      const keys = (await store.list(`${id}/`)).map((r) => r.key.slice(id.length + 1));
      for (const k of [
        'reference/model/checkpoint.bin',
        'reference/shards/robustness-train-0.json',
        'reference/shards/robustness-train-1.json',
        'reference/shards/robustness-validation-0.json',
        'reference/shards/robustness-test-0.json',
        'reference/robustness-train.json',
        'reference/robustness-validation.json',
        'members/m0/checkpoint.bin',
        'members/m1/checkpoint.bin',
        'report.json',
      ])
        expect(keys, k).toContain(k);

      // the report downloads through the API, from the bucket
      const download = await fetch(`${service.base}/v1/experiments/${id}/artifacts/report.json`, {
        headers: { authorization: `Bearer ${service.key}` },
      });
      expect(download.status).toBe(200);
      const report = JSON.parse(await download.text());
      expect(numericDiff(report.final, expected.final, 1e-6)).toEqual([]);

      for (const h of hosts) {
        // nothing written to the hosts' own artifact folders, and no job folder left behind
        expect(readdirSync(h.artifactDir)).toEqual([]);
        expect(readdirSync(h.workDir)).toEqual([]);
      }
      // the attack/evaluate host fetched its inputs into its cache
      expect(readdirSync(hosts[1]!.cacheDir)).toContain('sha256');
    }, 300_000);

    it('a joint AR-AdaLS ensemble re-ranked on the fly (member epochs and barriers on one host, re-ranks on the other) equals inline', async () => {
      const raw = {
        ...spec,
        name: 'e2e-handoff-joint',
        training: { ...spec.training, epochs: 3 },
        method: {
          ...spec.method,
          robustness: { attack: 'fmn-l2', source: 'on-the-fly', everyEpochs: 2, params: { steps: 10, batchSize: 32 } },
        },
        evaluation: { bins: 10, robustnessSubsets: 0 },
        ensemble: { members: 2, mode: 'joint' },
      };
      const submitted = await service.request('POST', '/v1/experiments', raw);
      expect(submitted.status).toBe(202);
      const id = submitted.body.id as string;
      await expectSucceededAsInline(service, id, raw, 240_000);

      const keys = (await store.list(`${id}/`)).map((r) => r.key.slice(id.length + 1));
      for (const k of [
        'joint/setup.json',
        'joint/ranking-e0.json',
        'joint/ranking-e2.json',
        'joint/m0-e3.f32',
        'joint/m1-e3.f32',
        'joint.json',
        'members/m0/checkpoint.bin',
        'report.json',
      ])
        expect(keys, k).toContain(k);
      for (const h of hosts) expect(readdirSync(h.workDir)).toEqual([]);
    }, 300_000);

    it('kill -9 of the host training a member mid-run: another host takes the job over (from at least the checkpoint behind every epoch recorded) and ends equal to inline', async () => {
      // the train host of the earlier cases gives way to one that stops after epoch 2 of the first member it takes
      const a = hosts[0]!.worker;
      a.child.kill('SIGKILL');
      await a.exited;
      const held = startHost('host-d', 'orchestrate,train', {
        ARCAL_FAULT_HOLD_AFTER_EPOCH: '2',
        ARCAL_FAULT_HOLD_JOBS: '-m\\d$',
        ARCAL_FAULT_HOLD_MS: '300000',
      });
      await held.worker.ready;
      const raw = {
        ...spec,
        name: 'e2e-handoff-takeover',
        dataset: { ...spec.dataset, trainLimit: 512 },
        training: { ...spec.training, epochs: 4 },
        method: { kind: 'vanilla' },
        evaluation: { bins: 10, robustnessSubsets: 0 },
      };
      const submitted = await service.request('POST', '/v1/experiments', raw);
      expect(submitted.status).toBe(202);
      const id = submitted.body.id as string;
      const done = followEvents(service, id, 240_000);
      const line = await until(
        async () => /fault hold: job (\S+-m(\d)) after epoch 2/.exec(held.worker.output()),
        180_000,
        'a member job to stop after epoch 2',
      );
      const [, jobId, member] = line;
      // every process of the host at once: its compute process stays blocked until killed
      for (const pid of [...descendants(held.worker.child.pid!), held.worker.child.pid!]) process.kill(pid, 'SIGKILL');
      await held.worker.exited;
      // what the killed host had recorded of that member: its checkpoint of at least that epoch was published first
      const repos = createRepositories(db!);
      const before = (await repos.runs.metricsForExperiment(id))
        .filter((r) => r.member === Number(member))
        .reduce((n, r) => Math.max(n, r.epoch), 0);
      const takeover = startHost('host-c', 'orchestrate,train', {});
      await takeover.worker.ready;
      expect(outcome(await done)).toBe('succeeded');

      const expected = await inlineReport(resolve(raw));
      const view = await service.request('GET', `/v1/experiments/${id}`);
      expect(numericDiff(comparable(view.body.report), comparable(expected), 1e-6)).toEqual([]);
      const metrics = await service.request('GET', `/v1/experiments/${id}/metrics`);
      expect(numericDiff(storedMetricRows(metrics.body.epochs), asMetricRows(expected), 1e-6)).toEqual([]);
      const row = await repos.jobs.get(jobId!);
      expect(row?.state).toBe('completed');
      const resumedFrom = (row!.result as { resumedFrom: number }).resumedFrom;
      console.log(
        `takeover: member ${member} had ${before} epoch(s) recorded when killed; resumed from epoch ${resumedFrom}`,
      );
      expect(resumedFrom).toBeGreaterThanOrEqual(before);
      expect(resumedFrom).toBeLessThanOrEqual(2);
      expect(readdirSync(takeover.workDir)).toEqual([]);
    }, 400_000);
  },
);

/** Pids of the processes `pid` started (the sandboxed compute processes of a worker). */
function descendants(pid: number): number[] {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}
