/**
 * The service on a cluster of simulated hosts (cluster.ts): `data` (PostgreSQL, Redis, s3rver), `api`, two worker
 * hosts `w1` and `w2` (each with its own empty cache and job folder, `--concurrency 1`), and `ops`, where the
 * relays for this process run. Hosts reach each other only by address; a worker host cannot see the API's or the
 * other worker's folders. Every case ends with a report equal to the inline run of the same tiny synthetic spec
 * to 1e-6, every epoch in report.epochs and in the metrics.
 *
 * Workers run with ARCAL_JOB_LOCK_MS=4000 and ARCAL_STALLED_INTERVAL_MS=1500 (BullMQ lock duration and stalled-job
 * check), so a dead or cut-off host's job is taken over after about 4 + 1.5 s, and ARCAL_RECONCILE_INTERVAL_MS=5000
 * (job rows reconciled with BullMQ every 5 s, rows younger than 5 s left alone).
 *
 * Redis is a Sentinel group on `data` (sentinel.ts: a primary, a replica, three sentinels that call the primary down
 * after 1 s): API and workers find its primary through REDIS_SENTINELS and REDIS_SENTINEL_NAME only. The last case
 * fails the primary over with writes the replica never saw.
 *
 * Runs with `npm run test:cluster` (ARCAL_CLUSTER=1) or REQUIRE_CLUSTER=1, and skips with a notice in a plain
 * `npm test`. Needs root and `ip` (iproute2); skips loudly otherwise, and fails instead under REQUIRE_CLUSTER=1.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asMetricRows, comparable, inlineReport, resolve, storedMetricRows } from '../e2e/compare.ts';
import { type ApiClient, numericDiff, until } from '../e2e/harness.ts';
import { expectSucceededAsInline } from '../e2e/same-as-inline.ts';
import { type PgServer, serversAvailable } from '../support/servers.ts';
import {
  type Cluster,
  clusterUnavailable,
  freshCluster,
  type HostProc,
  SERVICE_HOSTS,
  startClusterService,
  startClusterWorker,
} from './cluster.ts';
import { type SentinelGroup, sentinelUnavailable, startSentinelGroup } from './sentinel.ts';

const suiteStart = Date.now();
const required = process.env.REQUIRE_CLUSTER === '1';
// `npm test` runs every project: this one only when asked for (npm run test:cluster sets ARCAL_CLUSTER=1)
const wanted = required || process.env.ARCAL_CLUSTER === '1';
const unavailable = clusterUnavailable() ?? serversAvailable() ?? sentinelUnavailable();
if (unavailable && required)
  throw new Error(
    `cluster tests need root, iproute2, PostgreSQL, Redis and redis-sentinel: ${unavailable} (REQUIRE_CLUSTER=1, so this is a failure)`,
  );
const why = wanted
  ? unavailable && `cluster tests need root, iproute2, PostgreSQL, Redis and redis-sentinel: ${unavailable}`
  : 'about 2 minutes as root; run it with npm run test:cluster (ARCAL_CLUSTER=1) or REQUIRE_CLUSTER=1';
if (why) console.warn(`\n*** SKIPPING the cluster tests: ${why} ***\n`);

const LOCK_MS = 4000;
const STALLED_MS = 1500;
const RECONCILE_MS = 5000;
const BUCKET = 'arcal-cluster';

const base = {
  seed: 11,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 128, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.05 },
  evaluation: { bins: 10, robustnessSubsets: 0 },
};

const figures: Record<string, number> = {};

/**
 * The worker's test hook (workers/src/run-job.ts `faultHold`): a member job's first attempt stops its compute for
 * 20 s right after epoch 1's checkpoint, before the epoch's record is stored; the worker process keeps the job's
 * lock meanwhile. Given to w1 only, so that a kill or a cut lands in the middle of a run.
 */
const HOLD = {
  ARCAL_FAULT_HOLD_AFTER_EPOCH: '1',
  ARCAL_FAULT_HOLD_JOBS: '-m\\d+$',
  ARCAL_FAULT_HOLD_MS: '20000',
};

interface Entry {
  msg?: string;
  job?: string;
  requeued?: string[];
  err?: string;
  time?: number;
}

/** The worker's JSON log lines (pino). */
function entries(p: HostProc): Entry[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Entry;
      } catch {
        return {};
      }
    });
}

const activeJobs = (p: HostProc) =>
  entries(p)
    .filter((e) => e.msg === 'active')
    .map((e) => e.job!);

describe.skipIf(Boolean(why))('a cluster of hosts (network and mount namespaces)', () => {
  let cluster: Cluster;
  let pgServer: PgServer;
  let redis: SentinelGroup;
  let db: pg.Client;
  let service: ApiClient;
  const key = `arcal_cluster_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const workers = new Map<string, HostProc>();
  let common: Record<string, string>;

  const startWorkerOn = async (host: string, extra: Record<string, string> = {}) => {
    const w = startClusterWorker(cluster, host, common, {
      ARCAL_SHARD_EXAMPLES: '32',
      ARCAL_JOB_LOCK_MS: String(LOCK_MS),
      ARCAL_STALLED_INTERVAL_MS: String(STALLED_MS),
      ARCAL_RECONCILE_INTERVAL_MS: String(RECONCILE_MS),
      SHUTDOWN_GRACE_SECONDS: '5',
      ...extra,
    });
    workers.set(host, w);
    await w.ready;
    return w;
  };

  const submit = async (spec: unknown) => {
    const r = await service.request('POST', '/v1/experiments', spec);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.id as string;
  };

  /** Waits for the end, then checks report and metrics against the inline run (every epoch in both). */
  const expectInline = async (id: string, spec: unknown) =>
    (await expectSucceededAsInline(service, id, spec, 300_000)).expected;

  /** The member job of `id` that `w` holds after epoch 1 (see HOLD), once it does. */
  const heldOn = (w: HostProc, id: string) =>
    until(
      async () => new RegExp(`fault hold: job (${id}-m\\d+) after epoch 1`).exec(w.output())?.[1],
      180_000,
      `a member job of ${id} held after epoch 1`,
    );

  beforeAll(async () => {
    cluster = freshCluster(SERVICE_HOSTS);
    const started = await startClusterService(cluster, {
      bucket: BUCKET,
      key,
      redis: async () => {
        redis = await startSentinelGroup(cluster, 'data');
        // no REDIS_URL: the sentinels name the primary
        return redis.env;
      },
    });
    pgServer = started.pg;
    db = started.db;
    common = started.env;
    await Promise.all([started.listening(), startWorkerOn('w1'), startWorkerOn('w2')]);
    service = started.client;
  }, 240_000);

  afterAll(async () => {
    await db?.end().catch(() => {});
    await pgServer?.destroy().catch(() => {});
    await cluster?.destroy();
    figures.suiteSeconds = Math.round((Date.now() - suiteStart) / 1000);
    console.log(`cluster figures: ${JSON.stringify(figures)}`);
  });

  it('hosts are apart: a worker host reaches the others only by address and cannot read their folders', () => {
    const marker = (h: string) => join(cluster.host(h).dir, 'marker');
    for (const h of ['api', 'w1', 'w2']) cluster.exec(h, ['sh', '-c', `echo ${h} > '${marker(h)}'`]);
    for (const [self, other] of [
      ['w1', 'api'],
      ['w1', 'w2'],
      ['w2', 'api'],
      ['w2', 'w1'],
    ] as const) {
      expect(cluster.exec(self, ['cat', marker(self)]).stdout.trim()).toBe(self);
      const r = cluster.exec(self, ['cat', marker(other)]);
      expect(r.status, `${self} reads ${other}'s folder`).not.toBe(0);
    }
    // the machine's loopback is not theirs: nothing listens on 127.0.0.1 inside a host
    const data = cluster.host('data');
    expect(cluster.exec('w1', ['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/5432`]).status).not.toBe(0);
    expect(cluster.exec('w1', ['bash', '-c', `exec 3<>/dev/tcp/${data.addr}/6379 && echo open`]).stdout).toContain(
      'open',
    );
  });

  it('a precomputed AR-AdaLS run computes its robustness shards on both worker hosts, equal to inline', async () => {
    const spec = {
      ...base,
      name: 'cluster-shards',
      method: {
        kind: 'ar-adals',
        subsets: 2,
        alpha: 1,
        robustness: { attack: 'fmn-l2', source: 'precompute', params: { steps: 10, batchSize: 32 } },
      },
      evaluation: { bins: 10, robustnessSubsets: 2, robustness: { reference: 'vanilla' } },
    };
    const id = await submit(spec);
    await expectInline(id, spec);
    const shards = (host: string) => activeJobs(workers.get(host)!).filter((j) => j.startsWith(`${id}-rob-`));
    const all = await db.query(`select id from jobs where experiment_id = $1 and id like '%-rob-%'`, [id]);
    // 128 training, 64 validation and 64 test examples in shards of 32
    expect(all.rows.length).toBe(8);
    expect(shards('w1').length, 'shards on w1').toBeGreaterThan(0);
    expect(shards('w2').length, 'shards on w2').toBeGreaterThan(0);
    expect(new Set([...shards('w1'), ...shards('w2')])).toEqual(new Set(all.rows.map((r) => r.id)));
  }, 400_000);

  it('a 3-member joint ensemble trains its members on both hosts, equal to inline', async () => {
    const spec = {
      ...base,
      name: 'cluster-joint',
      method: {
        kind: 'ar-adals',
        subsets: 2,
        alpha: 1,
        robustness: { attack: 'fmn-l2', source: 'on-the-fly', everyEpochs: 2, params: { steps: 10, batchSize: 32 } },
      },
      ensemble: { members: 3, mode: 'joint' },
    };
    const id = await submit(spec);
    await expectInline(id, spec);
    const memberHosts = new Map<number, Set<string>>();
    for (const host of ['w1', 'w2'])
      for (const j of activeJobs(workers.get(host)!)) {
        const m = new RegExp(`^${id}-m(\\d+)-e\\d+$`).exec(j);
        if (m) memberHosts.set(Number(m[1]), (memberHosts.get(Number(m[1])) ?? new Set()).add(host));
      }
    expect([...memberHosts.keys()].sort()).toEqual([0, 1, 2]);
    const used = new Set([...memberHosts.values()].flatMap((s) => [...s]));
    expect(used).toEqual(new Set(['w1', 'w2']));
  }, 400_000);

  it('kill -9 of every process on a worker host mid-epoch: the other host finishes, every epoch stored', async () => {
    const spec = {
      ...base,
      name: 'cluster-kill',
      dataset: { ...base.dataset, trainLimit: 512 },
      training: { ...base.training, epochs: 4 },
      method: { kind: 'vanilla' },
      ensemble: { members: 2, mode: 'independent' },
    };
    // w1 anew, holding its member job for 20 s after epoch 1 (see HOLD): killed there, it dies mid-run with a
    // checkpoint behind it and epochs ahead, whatever the machine's speed
    await cluster.killAll('w1');
    const w1 = await startWorkerOn('w1', HOLD);
    const id = await submit(spec);
    const job = await heldOn(w1, id);
    const killedAt = Date.now();
    const killed = await cluster.killAll('w1');
    expect(killed).toBeGreaterThan(0);
    await until(async () => activeJobs(workers.get('w2')!).includes(job), 120_000, `w2 to take over ${job}`);
    figures.takeoverAfterKillSeconds = (Date.now() - killedAt) / 1000;
    await expectInline(id, spec);
  }, 500_000);

  it('a worker host cut off past its job lock: the other host takes over, and its late writes are refused', async () => {
    const spec = {
      ...base,
      name: 'cluster-cut',
      dataset: { ...base.dataset, trainLimit: 512 },
      training: { ...base.training, epochs: 4 },
      method: { kind: 'vanilla' },
      ensemble: { members: 2, mode: 'independent' },
    };
    // w1 anew with HOLD: the cut lands mid-run, and the old attempt resumes once the host is back
    await cluster.killAll('w1');
    const w1 = await startWorkerOn('w1', HOLD);
    const id = await submit(spec);
    const held = await heldOn(w1, id);
    const cutAt = Date.now();
    cluster.cut('w1');
    try {
      await until(async () => activeJobs(workers.get('w2')!).includes(held), 120_000, `w2 to take over ${held}`);
      figures.takeoverAfterCutSeconds = (Date.now() - cutAt) / 1000;
      // stay cut past one more lock period, so the old attempt is certainly stale when it returns
      await new Promise((r) => setTimeout(r, LOCK_MS + STALLED_MS));
    } finally {
      cluster.restore('w1');
    }
    figures.cutSeconds = (Date.now() - cutAt) / 1000;
    const expected = await expectInline(id, spec);
    const objects = () =>
      db
        .query(`select key, sha256, updated_at from stored_objects where key like $1 order by key`, [
          `%${held.slice(id.length + 1)}/%`,
        ])
        .then((r) => r.rows.filter((o) => o.key.includes(id)));
    const before = await objects();
    expect(before.length).toBeGreaterThan(0);
    // the old attempt, back on the network, finishes its training and fails: its output is refused (the job
    // does not complete on w1), and what the new attempt recorded stays as it was
    await until(
      async () => entries(w1).some((e) => e.err?.includes(`Missing lock for job ${held}`)),
      120_000,
      `w1's late attempt of ${held} to give up its job`,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; w1's log:\n${w1.output().slice(-4000)}`);
    });
    const late = entries(w1).filter((e) => e.err?.includes(`Missing lock for job ${held}`));
    expect(late.map((e) => e.err).join('\n'), 'the late attempt completed its job').not.toMatch(/moveToFinished/);
    expect(await objects()).toEqual(before);
    // its epochs after the hold did not land twice or change the stored ones
    const metrics = await service.request('GET', `/v1/experiments/${id}/metrics`);
    const stored = storedMetricRows(metrics.body.epochs.filter((r: any) => r.member !== -1));
    expect(numericDiff(stored, asMetricRows(expected), 1e-6)).toEqual([]);
    const view = await service.request('GET', `/v1/experiments/${id}`);
    expect(view.body.status).toBe('succeeded');
  }, 500_000);

  it('a Redis Sentinel failover that drops writes: submissions accepted again, no experiment lost, rows and BullMQ agree', async () => {
    const name = 'cluster-failover';
    const spec = {
      ...base,
      name,
      method: { kind: 'vanilla' },
      ensemble: { members: 2, mode: 'independent' },
    };
    const expected = await inlineReport(resolve(spec));
    // w1 anew without the hold of the cases above
    await cluster.killAll('w1');
    await startWorkerOn('w1');
    const jobRows = (ids: string[]) =>
      db
        .query(`select id, experiment_id, queue, state from jobs where experiment_id = any($1::uuid[]) order by id`, [
          ids,
        ])
        .then((r) => r.rows as Array<{ id: string; experiment_id: string; queue: string; state: string }>);

    const before = [await submit(spec), await submit(spec)];
    const primaryPid = redis.pid(redis.primaryPort);
    const replicaPid = redis.pid(redis.replicaPort);
    // Every process of both worker hosts, frozen for the moment of the failover so that the jobs accepted then wait
    // in the queue rather than start at once.
    const workerPids = ['w1', 'w2'].flatMap((h) =>
      spawnSync('ip', ['netns', 'pids', cluster.host(h).ns], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .map(Number),
    );
    expect(workerPids.length).toBeGreaterThan(1);
    const signal = (pids: number[], sig: NodeJS.Signals) => {
      for (const pid of pids)
        try {
          process.kill(pid, sig);
        } catch {
          // gone
        }
    };
    // The replica is stopped and its link to the primary closed (what the kernel already holds for it, it still
    // reads when it resumes; nothing after the close reaches it), two more experiments are accepted, and the
    // primary dies before the replica resumes: the replica, promoted, never saw those experiments' jobs, which
    // Postgres has as rows, queued.
    await until(async () => (await jobRows(before)).some((r) => r.queue !== 'orchestrate'), 60_000, 'member jobs');
    signal([replicaPid, ...workerPids], 'SIGSTOP');
    let during: string[] = [];
    let lost: string[] = [];
    let killedAt = 0;
    try {
      expect(redis.cli(redis.primaryPort, 'CLIENT', 'KILL', 'TYPE', 'replica').trim()).toBe('1');
      during = [await submit(spec), await submit(spec)];
      const rows = await jobRows(during);
      expect(rows.map((r) => r.state)).toEqual(rows.map(() => 'queued'));
      lost = rows.map((r) => r.id);
      process.kill(primaryPid, 'SIGKILL');
      killedAt = Date.now();
    } finally {
      signal([replicaPid, ...workerPids], 'SIGCONT');
    }

    // Submissions are refused (503, Retry-After) while the API has no primary, and accepted once it has the new one.
    const refusals = new Map<number, number>();
    const after = [
      await until(
        async () => {
          const r = await service.request('POST', '/v1/experiments', spec);
          if (r.status === 202) return r.body.id as string;
          refusals.set(r.status, (refusals.get(r.status) ?? 0) + 1);
          await new Promise((ok) => setTimeout(ok, 150));
          return undefined;
        },
        60_000,
        'a submission accepted after the failover',
      ),
    ];
    figures.acceptAfterFailoverSeconds = (Date.now() - killedAt) / 1000;
    expect(
      [...refusals.keys()].filter((status) => status !== 503),
      'refusals other than 503',
    ).toEqual([]);
    expect(redis.primaryPorts(), 'the primary the sentinels name').toEqual(
      redis.sentinelPorts.map(() => redis.replicaPort),
    );
    after.push(await submit(spec));

    // Every experiment of this case, also any whose row was written just as Redis went away, ends equal to inline.
    const all = () =>
      db
        .query(`select id, status from experiments where name = $1`, [name])
        .then((r) => r.rows as Array<{ id: string; status: string }>);
    const done = (e: { status: string }) => ['succeeded', 'failed', 'cancelled'].includes(e.status);
    await until(
      async () => (await all()).every(done),
      300_000,
      'every experiment of the failover case to finish',
    ).catch(async (err) => {
      const open = (await all()).filter((e) => !done(e));
      const rows = await jobRows(open.map((e) => e.id));
      const logs = [...workers.entries()].map(([h, w]) => `${h}:\n${w.output().slice(-3000)}`).join('\n');
      throw new Error(`${(err as Error).message}: ${JSON.stringify({ open, rows })}\n${logs}`);
    });
    const finished = await all();
    expect(new Set(finished.map((e) => e.id))).toEqual(
      new Set([...finished.map((e) => e.id), ...before, ...during, ...after]),
    );
    for (const e of finished) {
      const view = await service.request('GET', `/v1/experiments/${e.id}`);
      const logs = await service.request('GET', `/v1/experiments/${e.id}/logs`);
      expect(view.body.status, `${e.id}: ${JSON.stringify(logs.body).slice(-2000)}`).toBe('succeeded');
      expect(numericDiff(comparable(view.body.report), comparable(expected), 1e-6)).toEqual([]);
      const metrics = await service.request('GET', `/v1/experiments/${e.id}/metrics`);
      const stored = storedMetricRows(metrics.body.epochs.filter((r: any) => r.member !== -1));
      expect(numericDiff(stored, asMetricRows(expected), 1e-6)).toEqual([]);
    }

    // The jobs the lost writes had handed out were put back on the new primary by the reconciler.
    const requeued = [...workers.values()].flatMap((w) =>
      entries(w)
        .filter((e) => e.msg === 'job missing from BullMQ enqueued again')
        .map((e) => e.job!),
    );
    expect(lost.length).toBeGreaterThanOrEqual(during.length);
    for (const id of lost) expect(requeued, `${id} requeued by the reconciler`).toContain(id);
    figures.requeuedByReconciler = requeued.length;

    // At the end Postgres and BullMQ (the new primary) agree: every row finished; no job of these experiments is
    // open or failed in BullMQ; a completed row's job is completed there, or gone with the lost writes.
    const rows = await jobRows(finished.map((e) => e.id));
    expect(rows.filter((r) => r.state !== 'completed' && r.state !== 'cancelled')).toEqual([]);
    const port = await cluster.forward('ops', redis.addr, redis.replicaPort);
    const queues = new Map<string, Queue>();
    try {
      const states: Record<string, number> = {};
      for (const r of rows) {
        if (!queues.has(r.queue))
          queues.set(r.queue, new Queue(r.queue, { connection: { host: '127.0.0.1', port }, prefix: 'arcal' }));
        const state = await queues.get(r.queue)!.getJobState(r.id);
        states[state] = (states[state] ?? 0) + 1;
        expect([`${r.id}: completed`, `${r.id}: unknown`]).toContain(`${r.id}: ${state}`);
      }
      expect(states.completed ?? 0).toBeGreaterThan(0);
      figures.failoverJobsCompletedInBullmq = states.completed ?? 0;
      figures.failoverJobsGoneFromBullmq = states.unknown ?? 0;
    } finally {
      await Promise.all([...queues.values()].map((q) => q.close()));
    }
  }, 600_000);
});
