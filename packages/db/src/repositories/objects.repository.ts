/**
 * Records of the artifact store's objects (sha256, size, content type per key). The store writes a record only
 * after an upload has completed and reads only recorded keys, so this table is what "the object exists" means.
 * Shaped to satisfy `ObjectRecords` of @arcal/storage without importing it.
 */
import type { Db } from '../client.ts';
import { sql } from './sql.ts';

export interface StoredObjectRecord {
  key: string;
  sha256: string;
  size: number;
  contentType: string;
  updatedAt: Date;
  /** Stored name of the bytes (the key itself for the local folder and for rows written before locations). */
  location: string;
}

/** What a writer records: `location` is where it uploaded the bytes, when not under the key. */
export interface ObjectWrite {
  key: string;
  sha256: string;
  size: number;
  contentType: string;
  location?: string;
}

const FIELDS = `key, sha256, size, content_type AS "contentType", updated_at AS "updatedAt",
  COALESCE(location, key) AS location`;

interface Raw {
  key: string;
  sha256: string;
  size: string;
  contentType: string;
  updatedAt: Date;
  location: string;
}
// pg returns bigint as a string; objects stay far below 2^53 bytes.
const row = (r: Raw): StoredObjectRecord => ({ ...r, sha256: r.sha256.trim(), size: Number(r.size) });

/** `LIKE` pattern matching every key that starts with `prefix` (its own `%`, `_` and `\` taken literally). */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Which start of a job wrote an object: the job row's attempt number and start time, which every start of the
 * job (a retry, or a takeover after its lock expired) sets anew. An older start's writes are refused.
 */
export interface JobFence {
  jobId: string;
  attempts: number;
  startedAt: Date;
}

// null when the bytes are under the key itself, so that rows keep one spelling of "no location of its own"
const locationOf = (r: ObjectWrite) => (r.location && r.location !== r.key ? r.location : null);

const FENCE_HOLDS = `SELECT 1 FROM jobs WHERE id = $1 AND attempts = $2 AND started_at = $3`;

export class ObjectsRepository {
  constructor(private readonly db: Db) {}

  /** Records (or re-records, after an overwrite) one completed object. */
  async upsert(r: ObjectWrite): Promise<void> {
    await sql(
      this.db,
      'arcal_object_upsert',
      `INSERT INTO stored_objects (key, sha256, size, content_type, location, updated_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (key) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size,
         content_type = EXCLUDED.content_type, location = EXCLUDED.location, updated_at = now()`,
      [r.key, r.sha256, r.size, r.contentType, locationOf(r)],
    );
  }

  /** The fence of the job's latest start, or null when the job has no row or never started. */
  async fenceOf(jobId: string): Promise<JobFence | null> {
    const rows = await sql<{ attempts: number; startedAt: Date | null }>(
      this.db,
      'arcal_object_fence_of',
      `SELECT attempts, started_at AS "startedAt" FROM jobs WHERE id = $1`,
      [jobId],
    );
    const r = rows[0];
    return r?.startedAt ? { jobId, attempts: r.attempts, startedAt: r.startedAt } : null;
  }

  /** Whether `fence` is still the job's latest start. */
  async fenceHolds(f: JobFence): Promise<boolean> {
    const rows = await sql(this.db, 'arcal_object_fence_holds', FENCE_HOLDS, [f.jobId, f.attempts, f.startedAt]);
    return rows.length > 0;
  }

  /**
   * `upsert`, in one statement with the check that `fence` is still the job's latest start; false (nothing
   * recorded) when a later start of the job has begun since.
   */
  async upsertFenced(r: ObjectWrite, f: JobFence): Promise<boolean> {
    const rows = await sql(
      this.db,
      'arcal_object_upsert_fenced',
      `INSERT INTO stored_objects (key, sha256, size, content_type, location, updated_at)
       SELECT $1, $2, $3, $4, $8, now() WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $5 AND attempts = $6 AND started_at = $7)
       ON CONFLICT (key) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size,
         content_type = EXCLUDED.content_type, location = EXCLUDED.location, updated_at = now()
       RETURNING key`,
      [r.key, r.sha256, r.size, r.contentType, f.jobId, f.attempts, f.startedAt, locationOf(r)],
    );
    return rows.length > 0;
  }

  async get(key: string): Promise<StoredObjectRecord | null> {
    const rows = await sql<Raw>(this.db, 'arcal_object_get', `SELECT ${FIELDS} FROM stored_objects WHERE key = $1`, [
      key,
    ]);
    return rows[0] ? row(rows[0]) : null;
  }

  /** Records whose key starts with `prefix`, in key order, `limit` at a time after the key `after`. */
  async list(prefix: string, opts: { after?: string; limit?: number } = {}): Promise<StoredObjectRecord[]> {
    const rows = await sql<Raw>(
      this.db,
      'arcal_object_list',
      `SELECT ${FIELDS} FROM stored_objects WHERE key LIKE $1 AND key > $2 ORDER BY key LIMIT $3`,
      [likePrefix(prefix), opts.after ?? '', opts.limit ?? 1000],
    );
    return rows.map(row);
  }

  /** Which of `keys` are recorded. */
  async recorded(keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const rows = await sql<{ key: string }>(
      this.db,
      'arcal_object_recorded',
      'SELECT key FROM stored_objects WHERE key = ANY($1::text[])',
      [keys],
    );
    return new Set(rows.map((r) => r.key));
  }

  /**
   * Which of the stored names `names` a record points to (its location, or its key when it has none): the
   * sweep removes the others.
   */
  async referenced(names: string[]): Promise<Set<string>> {
    if (!names.length) return new Set();
    const rows = await sql<{ name: string }>(
      this.db,
      'arcal_object_referenced',
      `SELECT key AS name FROM stored_objects WHERE location IS NULL AND key = ANY($1::text[])
       UNION SELECT location FROM stored_objects WHERE location = ANY($1::text[])`,
      [names],
    );
    return new Set(rows.map((r) => r.name));
  }

  /** Deletes the records whose key starts with `prefix`; returns their keys. */
  async deletePrefix(prefix: string): Promise<string[]> {
    const rows = await sql<{ key: string }>(
      this.db,
      'arcal_object_delete_prefix',
      'DELETE FROM stored_objects WHERE key LIKE $1 RETURNING key',
      [likePrefix(prefix)],
    );
    return rows.map((r) => r.key);
  }
}
