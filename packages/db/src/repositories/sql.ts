/**
 * Hand-written SQL for the hot paths (authentication, submission, job start and completion): one statement
 * and one round trip where Prisma's query builder would need several, run on Prisma's own pool as named
 * prepared statements (parsed and planned once per connection). Column lists alias every column to the
 * field name of the Prisma model, and `pg` parses timestamptz into Date and jsonb into values, so a row
 * has the same shape and types as the model's row.
 */
import type { Db } from '../client.ts';
import type { JobRequest } from '../queue/catalog.ts';

/** Runs one named statement; `text` must be the same every time for a given `name`. */
export async function sql<R>(db: Db, name: string, text: string, values: unknown[]): Promise<R[]> {
  const r = await db.pool.query({ name, text, values });
  return r.rows as R[];
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
