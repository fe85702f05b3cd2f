/**
 * The service on servers of the fault suite's own: PostgreSQL and Redis from test/support (other ports than the
 * shared ones, so stopping them disturbs nothing else), the API and `arcal-worker`s as child processes. Every
 * piece can be stopped, killed and started again; the state of experiments and jobs is read straight from
 * Postgres and BullMQ so that it can be watched while the API is down.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeQueues, createQueues, migrate, type Queues } from '@arcal/db';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  type ApiClient,
  apiClient,
  apiListening,
  killProcs,
  type Proc,
  spawnApi,
  workerEnvOf,
  workerPool,
} from '../e2e/harness.ts';
import { freePort, type PgServer, type RedisServer, startPostgres, startRedis } from '../support/servers.ts';

/** Worker timings of the suite: a killed worker's job is handed out again within lock + stalled interval. */
export const WORKER_TIMINGS = {
  ARCAL_JOB_LOCK_MS: '15000',
  ARCAL_STALLED_INTERVAL_MS: '3000',
  ARCAL_RECONCILE_INTERVAL_MS: '5000',
  ARCAL_DB_RETRY_SECONDS: '120',
  SHUTDOWN_GRACE_SECONDS: '5',
} as const;

export interface FaultService extends ApiClient {
  pg: PgServer;
  redis: RedisServer;
  databaseUrl: string;
  prefix: string;
  api: () => Proc;
  workers: Proc[];
  /** Every worker's output so far, killed ones included. */
  workerOutput(): string;
  startApi(): Promise<void>;
  /** Sends `signal` to the API and waits for it to exit. */
  stopApi(signal: NodeJS.Signals): Promise<number | string | null>;
  addWorker(): Promise<Proc>;
  /** One statement on the suite's database (a fresh connection: works again as soon as Postgres is back). */
  query<T = any>(sql: string, args?: unknown[]): Promise<T[]>;
  /** BullMQ's state of a job id in `queue` ('missing' when it holds none). */
  bullmqState(queue: string, id: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startFaultService(opts: {
  workers: number;
  workerEnv?: Record<string, string>;
}): Promise<FaultService> {
  const [pgServer, redisServer] = await Promise.all([startPostgres(), startRedis()]);
  const admin = new pg.Client({ connectionString: pgServer.url });
  await admin.connect();
  await admin.query('CREATE DATABASE arcal_faults');
  await admin.end();
  const databaseUrl = pgServer.url.replace(/\/postgres$/, '/arcal_faults');
  await migrate(databaseUrl);
  const prefix = 'arcal-faults';
  const artifactDir = mkdtempSync(join(tmpdir(), 'arcal-faults-'));
  const port = await freePort();
  const key = `arcal_faults_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const base = `http://127.0.0.1:${port}`;
  const common = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisServer.url,
    ARCAL_QUEUE_PREFIX: prefix,
    ARTIFACT_DIR: artifactDir,
    LOG_LEVEL: 'warn',
  };
  let api: Proc | undefined;
  const startApi = async () => {
    api = spawnApi(common, port, key);
    await apiListening(api, base, 120_000);
  };
  const workerEnv = workerEnvOf(
    { databaseUrl, redisUrl: redisServer.url, prefix, cleanup: async () => {} },
    artifactDir,
    { ...WORKER_TIMINGS, ...opts.workerEnv },
  );
  const { workers, addWorker } = workerPool(workerEnv);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null, lazyConnect: false });
  redis.on('error', () => {});
  const queues: Queues = createQueues(redis, prefix);
  await Promise.all([startApi(), ...Array.from({ length: opts.workers }, () => addWorker())]);

  return {
    ...apiClient(base, key),
    pg: pgServer,
    redis: redisServer,
    databaseUrl,
    prefix,
    api: () => api!,
    workers,
    workerOutput: () => workers.map((w) => w.output()).join(''),
    startApi,
    async stopApi(signal) {
      const p = api!;
      p.child.kill(signal);
      return p.exited;
    },
    addWorker,
    async query(sql, args = []) {
      const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
      c.on('error', () => {});
      await c.connect();
      try {
        return (await c.query(sql, args)).rows;
      } finally {
        await c.end().catch(() => {});
      }
    },
    async bullmqState(queue, id) {
      const q = queues[queue as keyof Queues];
      const job = q ? await q.getJob(id) : undefined;
      return job ? await job.getState() : 'missing';
    },
    async stop() {
      await killProcs(api ? [api, ...workers] : workers);
      await closeQueues(queues).catch(() => {});
      redis.disconnect();
      await Promise.all([pgServer.destroy(), redisServer.destroy()]);
    },
  };
}
