/**
 * @arcal/db: the service's storage and queue plumbing. PostgreSQL through Prisma (one repository per
 * aggregate), the BullMQ job catalog and dispatcher, Redis events. Never imports tfjs or @arcal/core.
 */

export type { ExperimentStatus, JobState } from '../generated/prisma/enums.ts';
export { createDb, type Db, type DbOptions, isConnectionError, retryConnection } from './client.ts';
export {
  cancelChannel,
  compareEventIds,
  EVENT_ID,
  EVENT_LOG_MAX_ENTRIES,
  EVENT_LOG_TTL_MS,
  EventPublisher,
  EventSubscriber,
  type ExperimentEvent,
  eventLogKey,
  eventsChannel,
} from './events.ts';
export { DEFAULT_DATABASE_URL, MIGRATIONS_DIR, migrate, SCHEMA_PATH } from './migrate.ts';
export * from './queue/catalog.ts';
export { closeQueues, createQueues, JobDispatcher, jobOptions, type Queues } from './queue/dispatcher.ts';
export { type ReconcileReport, Reconciler, type ReconcilerOptions } from './queue/reconciler.ts';
export {
  assertNoEviction,
  type ConnectionWatch,
  createRedis,
  DEFAULT_REDIS_URL,
  DEFAULT_SENTINEL_PORT,
  evictionPolicy,
  type RedisConfig,
  type RedisSentinelConfig,
  redisConfigFromEnv,
  redisConfigOf,
  redisOptions,
  stderrWatch,
} from './redis.ts';
export {
  type ExperimentRow,
  ExperimentsRepository,
  FINISHED,
  isUuid,
  type NewExperiment,
} from './repositories/experiments.repository.ts';
export { type JobRow, JobsRepository } from './repositories/jobs.repository.ts';
export {
  type JobFence,
  ObjectsRepository,
  type ObjectWrite,
  type StoredObjectRecord,
} from './repositories/objects.repository.ts';
export { newApiKey, type Principal, ProjectsRepository, sha256Hex } from './repositories/projects.repository.ts';
export { type ArtifactRow, type JobLogRow, ResultsRepository } from './repositories/results.repository.ts';
export { type EpochInput, type EpochMetricRow, type RunRow, RunsRepository } from './repositories/runs.repository.ts';
export {
  type NewStudy,
  type NewStudyExperiment,
  StudiesRepository,
  type StudyRow,
} from './repositories/studies.repository.ts';
export { applyMigrations, poolConfigFromUrl, sqlFromEmpty } from './schema-engine.ts';

import type { Db } from './client.ts';
import { ExperimentsRepository } from './repositories/experiments.repository.ts';
import { JobsRepository } from './repositories/jobs.repository.ts';
import { ObjectsRepository } from './repositories/objects.repository.ts';
import { ProjectsRepository } from './repositories/projects.repository.ts';
import { ResultsRepository } from './repositories/results.repository.ts';
import { RunsRepository } from './repositories/runs.repository.ts';
import { StudiesRepository } from './repositories/studies.repository.ts';

export interface Repositories {
  projects: ProjectsRepository;
  experiments: ExperimentsRepository;
  jobs: JobsRepository;
  runs: RunsRepository;
  results: ResultsRepository;
  studies: StudiesRepository;
  /** Records of the artifact store's objects. */
  objects: ObjectsRepository;
}

export function createRepositories(db: Db): Repositories {
  return {
    projects: new ProjectsRepository(db),
    experiments: new ExperimentsRepository(db),
    jobs: new JobsRepository(db),
    runs: new RunsRepository(db),
    results: new ResultsRepository(db),
    studies: new StudiesRepository(db),
    objects: new ObjectsRepository(db),
  };
}
