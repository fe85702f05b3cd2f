/**
 * `arcal-worker --queues attack,train,evaluate,orchestrate --concurrency n`: one BullMQ Worker per queue.
 * Orchestrate jobs run in this process; train/attack/evaluate jobs run in sandboxed child processes
 * (with `--devices 0,1,...`, one set per device, each seeing only its own GPU).
 * Cancel broadcasts abort the matching running jobs; SIGTERM stops taking jobs and waits for the
 * running ones (up to SHUTDOWN_GRACE_SECONDS) before exiting.
 */
import { fileURLToPath } from 'node:url';
import { assertNoEviction, createRedis, EventSubscriber, redisConfigOf } from '@arcal/db';
import { createArtifactStore, describeArtifactConfig } from '@arcal/storage';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import pino from 'pino';
import { loadWorkerConfig } from './config.ts';
import { createContext } from './context.ts';
import { workerSlots } from './devices.ts';
import { assertHandlers, inProcess, SANDBOXED_QUEUES } from './handlers.ts';
import { startWorkerMetrics, workerMetricsOptions } from './metrics.ts';
import { fenceOfFailure, type JobLike, runJob } from './run-job.ts';
import { computeForkOptions, readableFailure, recordFailure, startReconciler } from './supervision.ts';
import { startSweep, sweepScheduleFromEnv, sweeps } from './sweep.ts';

let config: ReturnType<typeof loadWorkerConfig>;
let metricsOptions: ReturnType<typeof workerMetricsOptions>;
let sweepSchedule: ReturnType<typeof sweepScheduleFromEnv>;
try {
  config = loadWorkerConfig(process.argv.slice(2), process.env);
  metricsOptions = workerMetricsOptions(process.env);
  sweepSchedule = sweepScheduleFromEnv(process.env);
  // Before any connection: a job of a kind without a handler would fail, so such a worker must not start.
  assertHandlers(config.queues);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const logger = pino({ level: config.logLevel, base: { pid: process.pid, role: 'worker' } });

// The sandboxed processes read the same settings from their environment.
Object.assign(process.env, {
  DATABASE_URL: config.databaseUrl,
  REDIS_URL: config.redisUrl,
  ARTIFACT_DIR: config.artifactDir,
  ARCAL_QUEUE_PREFIX: config.queuePrefix,
  ARCAL_COMPUTE_MEMORY_MB: String(config.computeMemoryMb),
});

const ctx = createContext(config, (level, message, data) => logger[level](data ?? {}, message));
const redisWatch =
  (name: string) =>
  (state: 'lost' | 'back', detail: string): void =>
    state === 'lost'
      ? logger.warn({ connection: name, err: detail }, 'redis connection lost; reconnecting')
      : logger.info({ connection: name }, 'redis connection back');
const connection = createRedis(redisConfigOf(config), 'worker', {}, redisWatch('queues'));
try {
  await assertNoEviction(connection);
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(1);
}

const computeFile = fileURLToPath(new URL('./sandbox/compute.js', import.meta.url));
const active = new Map<string, { experimentId: string; worker: Worker }>();
const workers: Worker[] = [];

// One Worker per queue, and per device for sandboxed queues when --devices is given (devices.ts).
for (const { queue, device, forkOptions } of workerSlots(config, process.env)) {
  const sandboxed = SANDBOXED_QUEUES.includes(queue);
  const processor = sandboxed
    ? computeFile
    : (job: Job, _token?: string, signal?: AbortSignal) => runJob(ctx, inProcess, job as JobLike, signal);
  const worker = new Worker(queue, processor, {
    connection,
    prefix: config.queuePrefix,
    concurrency: config.concurrency,
    ...(sandboxed
      ? { useWorkerThreads: false, workerForkOptions: computeForkOptions(forkOptions, config.computeMemoryMb) }
      : {}),
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: 2,
  });
  worker.on('active', (job) => {
    active.set(job.id!, { experimentId: (job.data as { experimentId: string }).experimentId, worker });
    logger.info({ queue, job: job.id, name: job.name, ...(device ? { device } : {}) }, 'active');
  });
  worker.on('completed', (job) => {
    active.delete(job.id!);
    logger.info({ queue, job: job.id, name: job.name }, 'completed');
  });
  worker.on('failed', async (job, err) => {
    if (!job) return;
    active.delete(job.id!);
    const readable = readableFailure(err.message, config.computeMemoryMb);
    let final =
      err instanceof UnrecoverableError ||
      err.name === 'UnrecoverableError' ||
      job.attemptsMade >= (job.opts.attempts ?? 1);
    if (readable.memory && !final) {
      // Another attempt needs the same memory: fail now rather than after every retry has run out of it.
      final = await job
        .remove()
        .then(() => true)
        .catch(() => false);
    }
    logger.warn({ queue, job: job.id, attempts: job.attemptsMade, final, err: readable.message }, 'job failed');
    try {
      await recordFailure(ctx, queue, job, { message: readable.message }, final, fenceOfFailure(err));
    } catch (e) {
      logger.error({ err: (e as Error).message }, 'could not record a failure; the reconciler will');
    }
  });
  worker.on('error', (err) => logger.error({ queue, err: err.message }, 'worker error'));
  workers.push(worker);
}

const metrics = await startWorkerMetrics(workers, metricsOptions, (message, data) => logger.info(data, message));

// Cancels: abort this process's running jobs of the experiment (sandboxed ones through their signal).
const subscriber = new EventSubscriber(
  createRedis(redisConfigOf(config), 'worker', {}, redisWatch('cancel events')),
  config.queuePrefix,
);
await subscriber.onCancel((experimentId) => {
  for (const [jobId, a] of active) {
    if (a.experimentId === experimentId) {
      a.worker.cancelJob(jobId, 'experiment cancelled');
      logger.info({ job: jobId, experimentId }, 'cancelled running job');
    }
  }
});

// Rows committed but never enqueued (a crash between the two) are repaired here as well as by the API.
const repair = setInterval(() => ctx.dispatcher.repairPending(60_000).catch(() => {}), 60_000);
repair.unref();
// Job rows that disagree with BullMQ (an outage, a crash between two writes) are mended here.
const stopReconciler = startReconciler(ctx, config.reconcileIntervalMs, (level, message, data) =>
  logger[level](data ?? {}, message),
);
// Unrecorded objects and stale multipart uploads of an object store (sweep.ts; ARCAL_SWEEP_INTERVAL_MS, 0: off).
const sweepStore =
  config.artifact && sweeps(config.artifact, sweepSchedule)
    ? await createArtifactStore(config.artifact, ctx.repos.objects)
    : null;
const stopSweep = sweepStore
  ? startSweep(sweepStore, sweepSchedule, (level, message, data) => logger[level](data ?? {}, message))
  : () => {};
logger.info(
  {
    queues: config.queues,
    concurrency: config.concurrency,
    prefix: config.queuePrefix,
    devices: config.devices ?? 'cpu',
    sweepEveryMs: sweepStore ? sweepSchedule.intervalMs : 0,
    artifacts: describeArtifactConfig(config.artifact ?? { kind: 'file', dir: config.artifactDir }),
  },
  'arcal-worker ready',
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: no new jobs, waiting for running ones');
    clearInterval(repair);
    stopReconciler();
    stopSweep();
    const grace = setTimeout(() => {
      logger.warn('grace period over; exiting with jobs still running (they will be retried)');
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    await Promise.all(workers.map((w) => w.close()));
    clearTimeout(grace);
    await metrics.close();
    await subscriber.close();
    await ctx.close();
    await sweepStore?.close();
    connection.disconnect();
    process.exit(0);
  });
}
