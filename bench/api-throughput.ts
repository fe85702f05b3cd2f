/**
 * Service overhead, printed as JSON:
 *  - POST /v1/experiments over HTTP on 127.0.0.1: submissions per second and p50/p99 latency
 *    (N requests, C in flight; each validates, estimates, writes two rows and enqueues one job);
 *  - per-job overhead of an empty job (orchestrate:noop) through a real arcal-worker process:
 *    enqueue → start, and start → recorded as completed in Postgres.
 * Uses a fresh database and Redis prefix (dropped afterwards). `npx tsx bench/api-throughput.ts [N] [C] [jobs]`
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, createApiDeps, loadConfig } from '@arcal/api';
import { integrationEnv } from '@arcal/db/testing';

const N = Number(process.argv[2] ?? 300);
const C = Number(process.argv[3] ?? 16);
const JOBS = Number(process.argv[4] ?? 50);

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

const integration = await integrationEnv('bench');
if (!integration.available) {
  console.log(JSON.stringify({ skipped: integration.reason }));
  process.exit(0);
}
const env = integration.env;
const config = {
  ...loadConfig({}),
  databaseUrl: env.databaseUrl,
  redisUrl: env.redisUrl,
  queuePrefix: env.prefix,
  artifactDir: mkdtempSync(join(tmpdir(), 'arcal-bench-')),
  rateLimit: { max: 1e9, windowMs: 60_000 },
  logLevel: 'silent',
};
const deps = await createApiDeps(config);
const app = await buildApp(config, deps, { logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const { key } = await deps.repos.projects.createApiKey('bench');
const spec = readFileSync(new URL('../apps/api/test/fixtures/vanilla-synthetic.json', import.meta.url), 'utf8');

// --- submissions
const latencies: number[] = [];
let next = 0;
let failures = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: C }, async () => {
    while (next < N) {
      next++;
      const t = performance.now();
      const r = await fetch(`${base}/v1/experiments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: spec,
      });
      await r.arrayBuffer();
      if (r.status !== 202) failures++;
      latencies.push(performance.now() - t);
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;

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
  if (!row || row.state !== 'completed') throw new Error(`job ${id} did not complete`);
  if (i < 0) continue; // warm-up (worker start, connections)
  roundTrip.push(performance.now() - tp);
  enqueueToStart.push(row.startedAt!.getTime() - t);
  startToRecorded.push(row.finishedAt!.getTime() - row.startedAt!.getTime());
}
worker.kill('SIGTERM');
await new Promise((r) => worker.once('exit', r));

console.log(
  JSON.stringify(
    {
      submissions: {
        requests: N,
        concurrency: C,
        failures,
        seconds: +seconds.toFixed(2),
        perSecond: +(N / seconds).toFixed(1),
        latencyMs: summary(latencies),
      },
      emptyJob: {
        jobs: JOBS,
        enqueueToStartMs: summary(enqueueToStart),
        startToRecordedMs: summary(startToRecorded),
        dispatchToCompletedSeenMs: summary(roundTrip),
        note: 'sequential; timestamps from the job rows (ms resolution); round trip includes 2 ms polling',
      },
      node: process.version,
    },
    null,
    2,
  ),
);
await app.close();
await deps.close();
await env.cleanup();
