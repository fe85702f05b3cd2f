/**
 * Service overhead, printed on stdout as one JSON object:
 *  - POST /v1/experiments over HTTP on 127.0.0.1: submissions per second and p50/p99 latency (N requests,
 *    C in flight, after a warm-up; each authenticates, validates, estimates, writes the experiment and its
 *    start job and enqueues the job). The requests come from bench/http-load.ts in its own process, so the
 *    API process's CPU per submission is measured alone; the load generator's CPU and that of the local
 *    PostgreSQL and Redis processes over the same interval are reported too (the latter includes whatever
 *    else uses those servers meanwhile);
 *  - per-job overhead of an empty job (orchestrate:noop) through a real arcal-worker process, one at a time:
 *    dispatch (row written, job added) → worker start, and start → recorded as completed in Postgres.
 * Uses a fresh database and Redis prefix (dropped afterwards).
 *
 *   npx tsx bench/api-throughput.ts [N=2000] [C=16] [jobs=100] [warm-up=200]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { benchApi, gitCommit } from './lib/api-app.ts';

const N = Number(process.argv[2] ?? 2000);
const C = Number(process.argv[3] ?? 16);
const JOBS = Number(process.argv[4] ?? 100);
const WARM = Number(process.argv[5] ?? 200);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: +quantile(s, 0.5).toFixed(2),
    p99: +quantile(s, 0.99).toFixed(2),
    mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(2),
    n: s.length,
  };
};

/** CPU seconds used so far by the local PostgreSQL and Redis processes (exited backends via their parent), Linux only. */
function serversCpuSeconds(): number | null {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres' && comm !== 'redis-server') continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 after the command name
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    }
    return ticks / 100; // USER_HZ
  } catch {
    return null;
  }
}

const commit = gitCommit();
const { env, config, deps, app } = await benchApi('bench');
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const { key } = await deps.repos.projects.createApiKey('bench');
const specFile = fileURLToPath(new URL('../apps/api/test/fixtures/vanilla-synthetic.json', import.meta.url));
const loadAtStart = loadavg().map((x) => +x.toFixed(2));

// --- submissions, from a separate process
const client = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    fileURLToPath(new URL('./http-load.ts', import.meta.url)),
    `${base}/v1/experiments`,
    key,
    specFile,
    String(N),
    String(C),
    String(WARM),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const clientLines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
const nextLine = async () => {
  const r = await clientLines.next();
  if (r.done) throw new Error('the load generator ended early');
  return r.value;
};
if ((await nextLine()) !== 'ready') throw new Error('the load generator did not warm up');
const cpu0 = process.cpuUsage();
const servers0 = serversCpuSeconds();
client.stdin!.write('go\n');
const load = JSON.parse(await nextLine()) as {
  seconds: number;
  cpuSeconds: number;
  failures: number;
  statuses: Record<string, number>;
  latenciesMs: number[];
};
const cpu = process.cpuUsage(cpu0);
const servers1 = serversCpuSeconds();
client.stdin!.end();
await new Promise((r) => client.once('exit', r));

// --- per-job overhead through a real worker process
const worker = spawn(
  process.execPath,
  [
    new URL('../workers/bin/arcal-worker.js', import.meta.url).pathname,
    '--queues',
    'orchestrate',
    '--concurrency',
    '1',
  ],
  {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      ARCAL_QUEUE_PREFIX: env.prefix,
      ARTIFACT_DIR: config.artifactDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
// The submissions above queued start jobs; this worker serves them too, so cancel those experiments first.
await deps.db.experiment.updateMany({ data: { status: 'cancelled' } });
const project = await deps.repos.projects.ensureProject('bench-jobs');
const { experiment } = await deps.repos.experiments.createWithJobs(
  { projectId: project.id, name: 'noop', spec: {}, estimate: {} },
  () => [],
);
const enqueueToStart: number[] = [];
const startToRecorded: number[] = [];
const roundTrip: number[] = [];
for (let i = -5; i < JOBS; i++) {
  const id = `${experiment.id}-noop-${i + 5}`;
  const t = Date.now();
  const tp = performance.now();
  await deps.dispatcher.dispatch([
    { id, kind: 'orchestrate:noop', experimentId: experiment.id, payload: { experimentId: experiment.id } },
  ]);
  let row = await deps.repos.jobs.get(id);
  const deadline = Date.now() + 60_000;
  while (row?.state !== 'completed' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2));
    row = await deps.repos.jobs.get(id);
  }
  if (row?.state !== 'completed') throw new Error(`job ${id} did not complete`);
  if (i < 0) continue; // warm-up (worker start, connections)
  roundTrip.push(performance.now() - tp);
  enqueueToStart.push(row.startedAt!.getTime() - t);
  startToRecorded.push(row.finishedAt!.getTime() - row.startedAt!.getTime());
}
worker.kill('SIGTERM');
await new Promise((r) => worker.once('exit', r));

const enqueueToStartMs = summary(enqueueToStart);
const startToRecordedMs = summary(startToRecorded);
const perMs = (seconds: number) => +((seconds * 1000) / N).toFixed(3);
console.log(
  JSON.stringify(
    {
      date: new Date().toISOString(),
      commit,
      node: process.version,
      cpus: cpus().length,
      loadavg: { start: loadAtStart, end: loadavg().map((x) => +x.toFixed(2)) },
      submissions: {
        requests: N,
        concurrency: C,
        warmUp: WARM,
        failures: load.failures,
        statuses: load.statuses,
        seconds: +load.seconds.toFixed(2),
        perSecond: +(N / load.seconds).toFixed(1),
        latencyMs: summary(load.latenciesMs),
        cpuMsPerSubmission: {
          api: perMs((cpu.user + cpu.system) / 1e6),
          postgresAndRedis: servers0 === null || servers1 === null ? null : perMs(servers1 - servers0),
          loadGenerator: perMs(load.cpuSeconds),
        },
      },
      emptyJob: {
        jobs: JOBS,
        enqueueToStartMs,
        startToRecordedMs,
        overheadMs: enqueueToStartMs.p50 + startToRecordedMs.p50,
        dispatchToCompletedSeenMs: summary(roundTrip),
        note: 'sequential; timestamps from the job rows (ms resolution); the round trip includes 2 ms polling',
      },
    },
    null,
    2,
  ),
);
await app.close();
await deps.close();
await env.cleanup();
