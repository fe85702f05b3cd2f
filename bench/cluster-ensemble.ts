/**
 * A 5-member independent ensemble on one worker host vs two, on the cluster of simulated hosts that
 * test/cluster/cluster.ts builds (network and mount namespaces; needs root and iproute2, PostgreSQL and Redis
 * programs). Hosts as in the cluster test: `data` (PostgreSQL, Redis, s3rver), `api`, workers `w1` and `w2`
 * (`arcal-worker --concurrency 1`, each with its own cache and job folder; hand-offs through S3), `ops` (relays
 * for this process). The same spec runs twice, each time from submission to the `end` event:
 *   1. with a worker on w1 only;
 *   2. with workers on w1 and w2 (caches and job folders emptied before).
 * It prints one JSON object (the last line): wall times, the speed-up, the members each host trained, every
 * member job's own duration (started to finished in its job row), the core count and the load average before and
 * after each run.
 *
 * A member job's compute runs on one thread (ARCAL_THREADS=1, as in the cluster test), so one host keeps one core
 * busy and two hosts two: on a 2-core machine the speed-up is bounded by 2, and less, since the API, PostgreSQL,
 * Redis, s3rver and both worker processes' own work share those cores (and whatever else runs on the machine).
 *
 * With `rounds` = 2 the pair runs twice in the order one, two, two, one, so that a drift in the machine's other
 * load weighs on both alike; the speed-up is the sum of the one-host times over the sum of the two-host times.
 *
 *   sudo npx tsx bench/cluster-ensemble.ts [rounds=1] [backend=wasm]
 */
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterService,
  clusterUnavailable,
  freshCluster,
  type HostProc,
  SERVICE_HOSTS,
  startClusterService,
  startClusterWorker,
} from '../test/cluster/cluster.ts';
import { COMPUTE_ENV, followEvents, outcome } from '../test/e2e/harness.ts';
import { serversAvailable, startRedis } from '../test/support/servers.ts';
import { gitCommit } from './lib/api-app.ts';

const ROUNDS = Number(process.argv[2] ?? 1);
const BACKEND = process.argv[3] ?? COMPUTE_ENV.ARCAL_BACKEND;
const SPEC = {
  name: 'bench-cluster-ensemble',
  seed: 3,
  dataset: { name: 'fashion-mnist', trainLimit: 1024, validationSize: 256, testLimit: 256 },
  model: { arch: 'cnn' },
  training: { epochs: 2, batchSize: 64, optimizer: 'adam', learningRate: 0.001 },
  method: { kind: 'vanilla' },
  ensemble: { members: 5, mode: 'independent' },
  evaluation: { bins: 10, robustnessSubsets: 0 },
};
const BUCKET = 'arcal-bench';

const load = () => loadavg().map((l) => +l.toFixed(2));

const unavailable = clusterUnavailable() ?? serversAvailable();
if (unavailable) {
  console.log(JSON.stringify({ bench: 'cluster-ensemble', skipped: unavailable }));
  process.exit(0);
}

const cluster = freshCluster(SERVICE_HOSTS);
const data = cluster.host('data');
const key = `arcal_bench_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
let started: ClusterService | undefined;
try {
  started = await startClusterService(cluster, {
    bucket: BUCKET,
    key,
    redis: async () => {
      redis = await startRedis({ host: data.addr, port: 6379, wrap: cluster.prefix('data') });
      return { REDIS_URL: `redis://${data.addr}:6379` };
    },
  });
  const { db, env: common, client: service } = started;
  await started.listening();

  const startWorkerOn = async (host: string): Promise<HostProc> => {
    const dir = cluster.host(host).dir;
    // a fresh host: nothing cached from an earlier run
    for (const d of ['artifacts', 'work', 'cache']) rmSync(join(dir, d), { recursive: true, force: true });
    const w = startClusterWorker(cluster, host, common, { ARCAL_BACKEND: BACKEND });
    await w.ready;
    return w;
  };

  /** Member jobs a worker started, by its JSON log's `active` lines. */
  const membersOn = (w: HostProc, id: string) =>
    w
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; job?: string };
        } catch {
          return {};
        }
      })
      .filter((e) => e.msg === 'active' && e.job?.startsWith(`${id}-`))
      .map((e) => e.job!.slice(id.length + 1))
      .filter((j) => /^m\d+$/.test(j))
      .sort();

  let submitted = 0;
  const runOn = async (hosts: string[]) => {
    const workers = await Promise.all(hosts.map(startWorkerOn));
    const loadBefore = load();
    const t0 = Date.now();
    const r = await service.request('POST', '/v1/experiments', { ...SPEC, name: `${SPEC.name}-${++submitted}` });
    if (r.status !== 202) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
    const id = r.body.id as string;
    const events = await followEvents(service, id, 900_000);
    const wallSeconds = (Date.now() - t0) / 1000;
    const result = outcome(events);
    if (result !== 'succeeded')
      throw new Error(`${hosts.length} host(s): ${result}\n${workers.map((w) => w.output().slice(-3000)).join('\n')}`);
    const jobs = await db.query<{ id: string; s: number }>(
      `select id, extract(epoch from finished_at - started_at)::float8 as s from jobs
        where experiment_id = $1 and name = 'member' order by id`,
      [id],
    );
    const out = {
      hosts,
      experiment: id,
      wallSeconds,
      loadBefore,
      loadAfter: load(),
      membersByHost: Object.fromEntries(hosts.map((h, i) => [h, membersOn(workers[i]!, id)])),
      memberJobSeconds: Object.fromEntries(jobs.rows.map((j) => [j.id.slice(id.length + 1), +j.s.toFixed(2)])),
    };
    for (const h of hosts) await cluster.killAll(h);
    return out;
  };

  const runs: Array<Awaited<ReturnType<typeof runOn>>> = [];
  for (let r = 0; r < ROUNDS; r++)
    for (const hosts of r % 2 ? [['w1', 'w2'], ['w1']] : [['w1'], ['w1', 'w2']]) runs.push(await runOn(hosts));
  const total = (n: number) => runs.filter((x) => x.hosts.length === n).reduce((a, x) => a + x.wallSeconds, 0);
  console.log(
    JSON.stringify({
      bench: 'cluster-ensemble',
      commit: gitCommit(),
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      backend: BACKEND,
      threadsPerWorker: Number(COMPUTE_ENV.ARCAL_THREADS),
      spec: SPEC,
      rounds: ROUNDS,
      runs,
      oneHostSeconds: runs.filter((x) => x.hosts.length === 1).map((x) => x.wallSeconds),
      twoHostsSeconds: runs.filter((x) => x.hosts.length === 2).map((x) => x.wallSeconds),
      speedup: +(total(1) / total(2)).toFixed(2),
      note: `${cpus().length} cores shared by every process of the cluster (and the machine's other work): the speed-up of two worker hosts over one is bounded by ${Math.min(2, cpus().length)}`,
    }),
  );
} finally {
  await started?.db.end().catch(() => {});
  await started?.pg.destroy().catch(() => {});
  await redis?.destroy().catch(() => {});
  await cluster.destroy();
}
