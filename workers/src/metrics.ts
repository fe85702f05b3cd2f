/**
 * A worker process's Prometheus metrics through prom-client: how long each job attempt ran, observed when
 * it finishes (completed or failed), attempts finished by outcome, jobs running now, and the process and
 * Node.js defaults. Served at `/metrics` on a port of its own, ARCAL_WORKER_METRICS_PORT (off when unset:
 * several workers on one host each need their own port). Labels are the queue and the outcome only, never
 * a job, experiment or project.
 */
import { createServer, type Server } from 'node:http';
import type { Job, Worker } from 'bullmq';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: a merge job takes a fraction of a second, a member's training hours. */
export const JOB_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400];

export interface WorkerMetricsOptions {
  /** Port of the `/metrics` listener; undefined: no listener (the metrics are still kept). */
  port?: number;
  host: string;
}

/** Reads ARCAL_WORKER_METRICS_PORT (0 picks a free port) and ARCAL_WORKER_METRICS_HOST [0.0.0.0]. */
export function workerMetricsOptions(env: Record<string, string | undefined>): WorkerMetricsOptions {
  const host = env.ARCAL_WORKER_METRICS_HOST || '0.0.0.0';
  const raw = env.ARCAL_WORKER_METRICS_PORT;
  if (raw === undefined || raw === '') return { host };
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`ARCAL_WORKER_METRICS_PORT must be a port number (0-65535), got "${raw}"`);
  return { port, host };
}

type Outcome = 'completed' | 'failed';

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<'queue' | 'outcome'>;
  private readonly finished: Counter<'queue' | 'outcome'>;
  private readonly running: Gauge<'queue'>;
  /** Start of each running attempt (performance.now()), by queue and job id. */
  private readonly started = new Map<string, number>();
  private server?: Server;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.duration = new Histogram({
      name: 'arcal_job_duration_seconds',
      help: 'Run time of job attempts in this worker, observed as each one finishes',
      labelNames: ['queue', 'outcome'] as const,
      buckets: JOB_BUCKETS,
      registers: [this.registry],
    });
    this.finished = new Counter({
      name: 'arcal_jobs_finished_total',
      help: 'Job attempts finished in this worker, by outcome (a failed attempt may be retried)',
      labelNames: ['queue', 'outcome'] as const,
      registers: [this.registry],
    });
    this.running = new Gauge({
      name: 'arcal_jobs_running',
      help: 'Jobs running in this worker now',
      labelNames: ['queue'] as const,
      registers: [this.registry],
    });
  }

  /** Observes every attempt of a BullMQ Worker (its name is the queue's). */
  watch(worker: Worker): void {
    const queue = worker.name;
    // Series exist from the start, so a first finish reads as an increase from 0 rather than a new series.
    for (const outcome of ['completed', 'failed'] as const) {
      this.finished.inc({ queue, outcome }, 0);
      this.duration.zero({ queue, outcome });
    }
    this.running.set({ queue }, 0);
    worker.on('active', (job) => this.jobStarted(queue, job.id!));
    worker.on('completed', (job) => this.jobFinished(queue, job, 'completed'));
    worker.on('failed', (job) => {
      if (job) this.jobFinished(queue, job, 'failed');
    });
  }

  jobStarted(queue: string, jobId: string): void {
    const key = `${queue}\0${jobId}`;
    if (!this.started.has(key)) this.running.inc({ queue });
    this.started.set(key, performance.now());
  }

  jobFinished(queue: string, job: Pick<Job, 'id' | 'processedOn' | 'finishedOn'>, outcome: Outcome): void {
    const key = `${queue}\0${job.id}`;
    const t0 = this.started.get(key);
    this.finished.inc({ queue, outcome });
    if (t0 !== undefined) {
      this.started.delete(key);
      this.running.dec({ queue });
      this.duration.observe({ queue, outcome }, (performance.now() - t0) / 1000);
    } else if (job.processedOn && job.finishedOn) {
      // A job this process did not see start (its lock was taken over): BullMQ's own timestamps.
      this.duration.observe({ queue, outcome }, Math.max(0, job.finishedOn - job.processedOn) / 1000);
    }
  }

  /** Starts the `/metrics` listener; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /** The listener's port, once listening. */
  get port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** The worker's start-up hook: watches its BullMQ Workers and serves `/metrics` when a port is configured. */
export async function startWorkerMetrics(
  workers: Worker[],
  opts: WorkerMetricsOptions,
  log: (message: string, data: Record<string, unknown>) => void,
): Promise<WorkerMetrics> {
  const metrics = new WorkerMetrics();
  for (const w of workers) metrics.watch(w);
  if (opts.port !== undefined) {
    const port = await metrics.listen(opts.port, opts.host);
    log('metrics at /metrics', { host: opts.host, port });
  }
  return metrics;
}
