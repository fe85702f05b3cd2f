/**
 * Hand-written SQL for the hot paths (authentication, submission of an experiment or a study, job start and
 * completion): one statement and one round trip where Prisma's query builder would need several (a study: one
 * transaction of two statements), run on Prisma's own pool as named prepared statements (parsed and planned
 * once per connection). Column lists alias every column to the
 * field name of the Prisma model, and `pg` parses timestamptz into Date and jsonb into values, so a row
 * has the same shape and types as the model's row.
 */
import type pg from 'pg';
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';

/**
 * Runs one named statement on the pool, or on `on` when it is a client checked out by `transaction`; `text`
 * must be the same every time for a given `name`.
 */
export async function sql<R>(on: Db | pg.PoolClient, name: string, text: string, values: unknown[]): Promise<R[]> {
  const r = await ('$transaction' in on ? on.pool : on).query({ name, text, values });
  return r.rows as R[];
}

/**
 * Runs `fn` in one transaction on one connection of the pool (BEGIN, `fn`'s statements, COMMIT; ROLLBACK and
 * rethrow when `fn` throws), for a write of several statements that must commit together.
 */
export async function transaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e; // the connection is unusable: the pool discards it
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}

/** Every column of `experiments`, named as the fields of `Experiment`. */
export const EXPERIMENT_FIELDS = [
  'id',
  'project_id AS "projectId"',
  'name',
  'spec',
  'status',
  'estimate',
  'idempotency_key AS "idempotencyKey"',
  'request_hash AS "requestHash"',
  'error',
  'soft_labels AS "softLabels"',
  'current_epoch AS "currentEpoch"',
  'attempt',
  'created_at AS "createdAt"',
  'updated_at AS "updatedAt"',
  'started_at AS "startedAt"',
  'finished_at AS "finishedAt"',
  'study_id AS "studyId"',
].join(', ');

/** Every column of `studies`, named as the fields of `Study`. */
export const STUDY_FIELDS = [
  'id',
  'project_id AS "projectId"',
  'name',
  'document',
  'points',
  'estimate',
  'idempotency_key AS "idempotencyKey"',
  'request_hash AS "requestHash"',
  'created_at AS "createdAt"',
].join(', ');

/** A new experiment row: what differs from one experiment of a submission to the next. */
export interface ExperimentValues {
  id: string;
  name: string;
  spec: unknown;
  estimate: unknown;
}

/**
 * New experiments as one JSON array parameter, read back with `x.v->'spec'` (so a JSON value, null included,
 * is stored as given, and a missing one is SQL NULL, as a `$n::jsonb` parameter of `JSON.stringify(value)` was).
 */
export const experimentsJson = (rows: ExperimentValues[]): string =>
  JSON.stringify(rows.map((r) => ({ id: r.id, name: r.name, spec: r.spec, estimate: r.estimate })));

/** Job requests as one JSON array parameter, read back in SQL with `jsonb_to_recordset(...) AS x${JOBS_RECORD}`. */
export const jobsJson = (jobs: JobRequest[]): string =>
  JSON.stringify(
    jobs.map((j) => ({
      id: j.id,
      experiment_id: j.experimentId,
      queue: j.kind.split(':')[0]!,
      name: j.kind.split(':')[1]!,
      payload: j.payload,
    })),
  );

export const JOBS_RECORD = '(id text, experiment_id uuid, queue text, name text, payload jsonb)';

/** See insertExperimentsWithJobs; $1 experimentsJson, $2 project, $3 study, $4 key, $5 request hash, $6 jobsJson. */
const INSERT_EXPERIMENTS_WITH_JOBS = `
  WITH e AS (
    INSERT INTO experiments (id, project_id, study_id, name, spec, estimate, idempotency_key, request_hash, updated_at)
    SELECT (x.v->>'id')::uuid, $2::uuid, $3::uuid, x.v->>'name', x.v->'spec', x.v->'estimate', $4, $5, now()
    FROM jsonb_array_elements($1::jsonb) AS x(v)
    ON CONFLICT (project_id, idempotency_key) DO NOTHING
    RETURNING *
  ), j AS (
    INSERT INTO jobs (id, experiment_id, queue, name, payload, updated_at)
    SELECT x.id, x.experiment_id, x.queue, x.name, x.payload, now()
    FROM jsonb_to_recordset($6::jsonb) AS x${JOBS_RECORD}
    WHERE EXISTS (SELECT 1 FROM e)
  )
  SELECT ${EXPERIMENT_FIELDS} FROM e`;

/**
 * Any number of experiments of one project (and study, if any) and their first job rows (state `pending`) in
 * one multi-row statement: one implicit transaction on the pool, or part of the transaction of `on`. The
 * idempotency key and request hash, if any, go on every row: a key is meant for a single experiment. The job
 * rows are written only if an experiment was; none is when the key was already used by the project (a
 * concurrent insert with the key waits for the other's commit). Returns the experiments written, in no
 * particular order, as `Experiment` rows.
 */
export function insertExperimentsWithJobs<R>(
  on: Db | pg.PoolClient,
  owner: {
    projectId: string;
    studyId?: string | undefined;
    idempotencyKey?: string | undefined;
    requestHash?: string | undefined;
  },
  experiments: ExperimentValues[],
  jobs: JobRequest[],
): Promise<R[]> {
  return sql<R>(on, 'arcal_insert_experiments', INSERT_EXPERIMENTS_WITH_JOBS, [
    experimentsJson(experiments),
    owner.projectId,
    owner.studyId ?? null,
    owner.idempotencyKey ?? null,
    owner.requestHash ?? null,
    jobsJson(jobs),
  ]);
}
