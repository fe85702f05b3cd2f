/**
 * @arcal/db: the service's storage and queue plumbing. PostgreSQL through Prisma (one repository per
 * aggregate), the BullMQ job catalog and dispatcher, Redis events. Never imports tfjs or @arcal/core.
 */
export { createDb, type Db, type DbOptions } from './client.ts';
export { migrate, MIGRATIONS_DIR, SCHEMA_PATH, DEFAULT_DATABASE_URL } from './migrate.ts';
export { applyMigrations, sqlFromEmpty, poolConfigFromUrl } from './schema-engine.ts';
export { ProjectsRepository, sha256Hex, newApiKey, type Principal } from './repositories/projects.repository.ts';
export { ExperimentsRepository, FINISHED, isUuid, type ExperimentRow, type NewExperiment } from './repositories/experiments.repository.ts';
export { JobsRepository, type JobRow } from './repositories/jobs.repository.ts';
export { RunsRepository, type RunRow, type EpochMetricRow, type EpochInput } from './repositories/runs.repository.ts';
export { ResultsRepository, type ArtifactRow, type JobLogRow } from './repositories/results.repository.ts';
export * from './queue/catalog.ts';
export { createQueues, closeQueues, jobOptions, JobDispatcher, type Queues } from './queue/dispatcher.ts';
export { createRedis, assertNoEviction, evictionPolicy } from './redis.ts';
export { EventPublisher, EventSubscriber, eventsChannel, cancelChannel, type ExperimentEvent } from './events.ts';
export type { ExperimentStatus, JobState } from '../generated/prisma/enums.ts';

import { ExperimentsRepository } from './repositories/experiments.repository.ts';
import { JobsRepository } from './repositories/jobs.repository.ts';
import { ProjectsRepository } from './repositories/projects.repository.ts';
import { ResultsRepository } from './repositories/results.repository.ts';
import { RunsRepository } from './repositories/runs.repository.ts';
import type { Db } from './client.ts';

export interface Repositories {
  projects: ProjectsRepository;
  experiments: ExperimentsRepository;
  jobs: JobsRepository;
  runs: RunsRepository;
  results: ResultsRepository;
}

export function createRepositories(db: Db): Repositories {
  return {
    projects: new ProjectsRepository(db),
    experiments: new ExperimentsRepository(db),
    jobs: new JobsRepository(db),
    runs: new RunsRepository(db),
    results: new ResultsRepository(db),
  };
}
