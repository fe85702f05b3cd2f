/** What every processor receives: repositories, the dispatcher, the event publisher, config. Built once per process. */

import type { PlanStep } from '@arcal/core/plan';
import {
  closeQueues,
  createDb,
  createQueues,
  createRedis,
  createRepositories,
  EventPublisher,
  JobDispatcher,
  type Queues,
  type Repositories,
  redisConfigOf,
} from '@arcal/db';
import type { SandboxConfig } from './config.ts';

export interface WorkerContext {
  config: SandboxConfig;
  repos: Repositories;
  dispatcher: JobDispatcher;
  events: EventPublisher;
  log: (level: 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>) => void;
  /** Told each step of the experiment's plan a handler runs (tests compare them with the inline runner's); unset by default. */
  onStep?: (step: PlanStep) => void;
  close(): Promise<void>;
}

export function createContext(config: SandboxConfig, log: WorkerContext['log']): WorkerContext {
  // Every write of a worker is idempotent, so statements may wait out a Postgres outage and run again.
  const db = createDb(config.databaseUrl, {
    max: 4,
    retryMs: config.dbRetryMs,
    onRetry: (err, attempt) => {
      if (attempt === 1) log('warn', 'Postgres unreachable; retrying', { err: err.message });
    },
  });
  const repos = createRepositories(db);
  const redis = createRedis(redisConfigOf(config), 'worker', {}, (state, detail) =>
    state === 'lost'
      ? log('warn', 'redis connection lost; reconnecting', { connection: 'context', err: detail })
      : log('info', 'redis connection back', { connection: 'context' }),
  );
  const queues: Queues = createQueues(redis, config.queuePrefix);
  return {
    config,
    repos,
    dispatcher: new JobDispatcher(repos.jobs, queues),
    events: new EventPublisher(redis, config.queuePrefix),
    log,
    async close() {
      await closeQueues(queues);
      redis.disconnect();
      await db.$disconnect();
    },
  };
}
