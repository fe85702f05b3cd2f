import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedis } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { JOB_BUCKETS, startWorkerMetrics, type WorkerMetrics, workerMetricsOptions } from '../src/metrics.ts';

const integration = await integrationEnv('worker-metrics');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('workerMetricsOptions', () => {
  it('is off unless a port is given, and refuses a port that is not one', () => {
    expect(workerMetricsOptions({})).toEqual({ host: '0.0.0.0' });
    expect(workerMetricsOptions({ ARCAL_WORKER_METRICS_PORT: '9464', ARCAL_WORKER_METRICS_HOST: '127.0.0.1' })).toEqual(
      { port: 9464, host: '127.0.0.1' },
    );
    expect(() => workerMetricsOptions({ ARCAL_WORKER_METRICS_PORT: '70000' })).toThrow(/ARCAL_WORKER_METRICS_PORT/);
    expect(() => workerMetricsOptions({ ARCAL_WORKER_METRICS_PORT: 'x' })).toThrow(/port number/);
  });
});

describe.skipIf(!env)('worker /metrics (real BullMQ on Redis)', () => {
  it('observes each job attempt as it finishes, by outcome; counts only grow; process metrics too', async () => {
    const connection = createRedis(env!.redisUrl, 'worker');
    const producer = createRedis(env!.redisUrl, 'producer');
    const name = 'metrics-test';
    const queue = new Queue(name, { connection: producer, prefix: env!.prefix });
    const worker = new Worker(
      name,
      async (job) => {
        // Holds the job open until the test has seen it running; then sleeps a known minimum.
        await new Promise((r) => setTimeout(r, job.data.ms));
        if (job.data.fail) throw new Error('planned failure');
        return 'ok';
      },
      { connection, prefix: env!.prefix, concurrency: 1 },
    );
    let metrics: WorkerMetrics | undefined;
    try {
      metrics = await startWorkerMetrics([worker], { port: 0, host: '127.0.0.1' }, () => {});
      const port = metrics.port;
      const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // Waits for the worker's own event, not the queue's: the queue's event stream may report the job
      // finished before this process has run its listeners, the metrics' among them. Listeners run in the
      // order they were added, and the metrics' were added first.
      const run = async (data: { ms: number; fail?: boolean }) => {
        let id: string | undefined;
        const seen = new Set<string>();
        let done!: () => void;
        const finished = new Promise<void>((r) => {
          done = r;
        });
        const onEnd = (job: { id?: string } | undefined) => {
          if (!job?.id) return;
          seen.add(job.id);
          if (job.id === id) done();
        };
        worker.on('completed', onEnd);
        worker.on('failed', onEnd);
        try {
          id = (await queue.add('j', data, { attempts: 1 })).id;
          if (id && seen.has(id)) done();
          await finished;
        } finally {
          worker.off('completed', onEnd);
          worker.off('failed', onEnd);
        }
      };
      const c = { queue: name, outcome: 'completed' };
      const f = { queue: name, outcome: 'failed' };

      let text = await scrape();
      expect(value(text, 'arcal_job_duration_seconds_count', c)).toBe(0);
      expect(value(text, 'arcal_jobs_finished_total', f)).toBe(0);
      expect(text).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
      expect(text).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);

      await run({ ms: 150 });
      await run({ ms: 0, fail: true });
      text = await scrape();
      expect(value(text, 'arcal_job_duration_seconds_count', c)).toBe(1);
      expect(value(text, 'arcal_job_duration_seconds_count', f)).toBe(1);
      expect(value(text, 'arcal_jobs_finished_total', c)).toBe(1);
      expect(value(text, 'arcal_jobs_finished_total', f)).toBe(1);
      expect(value(text, 'arcal_jobs_running', { queue: name })).toBe(0);
      // the completed attempt slept 150 ms: not in the 0.1 s bucket, in the 0.5 s one only if it was quick
      expect(value(text, 'arcal_job_duration_seconds_sum', c)).toBeGreaterThanOrEqual(0.15);
      expect(value(text, 'arcal_job_duration_seconds_bucket', { ...c, le: String(JOB_BUCKETS[0]) })).toBe(0);
      expect(value(text, 'arcal_job_duration_seconds_bucket', { ...c, le: '+Inf' })).toBe(1);

      // Later scrapes only add: the histogram is not rebuilt from a time window.
      await run({ ms: 0 });
      const later = await scrape();
      expect(value(later, 'arcal_job_duration_seconds_count', c)).toBe(2);
      expect(value(later, 'arcal_job_duration_seconds_bucket', { ...c, le: '+Inf' })).toBe(2);
      expect(value(later, 'arcal_job_duration_seconds_count', f)).toBe(1);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await metrics?.close();
      await worker.close();
      await queue.close();
      connection.disconnect();
      producer.disconnect();
    }
  }, 30_000);
});

const bin = fileURLToPath(new URL('../bin/arcal-worker.js', import.meta.url));

describe.skipIf(!env)('arcal-worker serves /metrics on ARCAL_WORKER_METRICS_PORT', () => {
  const workerEnv = (port: string) => ({
    ...process.env,
    DATABASE_URL: env!.databaseUrl,
    REDIS_URL: env!.redisUrl,
    ARCAL_QUEUE_PREFIX: env!.prefix,
    ARTIFACT_DIR: mkdtempSync(join(tmpdir(), 'arcal-wm-')),
    ARCAL_WORKER_METRICS_PORT: port,
    ARCAL_WORKER_METRICS_HOST: '127.0.0.1',
  });

  it('refuses a port that is not one with exit 2 and one line', () => {
    const r = spawnSync(process.execPath, [bin, '--queues', 'orchestrate'], {
      env: workerEnv('http'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('ARCAL_WORKER_METRICS_PORT must be a port number (0-65535), got "http"');
  }, 60_000);

  it("answers with its queues' series and the process metrics, and stops with the worker", async () => {
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    const child = spawn(process.execPath, [bin, '--queues', 'orchestrate'], {
      env: workerEnv(String(port)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const look = (d: Buffer) => {
          out += d;
          if (out.includes('arcal-worker ready')) resolve();
        };
        child.stdout!.on('data', look);
        child.stderr!.on('data', look);
        exited.then(() => reject(new Error(`the worker exited:\n${out}`)));
      });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(value(text, 'arcal_jobs_finished_total', { queue: 'orchestrate', outcome: 'completed' })).toBe(0);
      expect(value(text, 'arcal_jobs_running', { queue: 'orchestrate' })).toBe(0);
      expect(value(text, 'process_resident_memory_bytes', {})).toBeGreaterThan(0);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
