/**
 * The artifact store's one interface, used by every process (API, workers), and what its implementations and
 * its records must provide. No arcal imports: the records come in by constructor (PostgreSQL's
 * `ObjectsRepository` of @arcal/db has this shape).
 */
import type { Readable } from 'node:stream';

/** What is recorded for every object once its upload has completed. */
export interface ObjectRecord {
  key: string;
  /** Hex sha256 of the content, computed while it was written. */
  sha256: string;
  size: number;
  contentType: string;
  updatedAt: Date;
  /**
   * Stored name of the bytes. With S3 every upload goes to a name of its own (`<key>~<random>`) and the record
   * points at it, so recorded bytes are never overwritten; the local folder (and any record written before
   * locations existed) keeps the bytes under the key itself.
   */
  location: string;
}

/** Where records live (PostgreSQL's `stored_objects` through `ObjectsRepository`). */
export interface ObjectRecords {
  /** Records `key` as the bytes stored under `location` (the key itself when absent). */
  upsert(r: { key: string; sha256: string; size: number; contentType: string; location?: string }): Promise<void>;
  get(key: string): Promise<ObjectRecord | null>;
  /** Records whose key starts with `prefix`, in key order, `limit` after the key `after`. */
  list(prefix: string, opts?: { after?: string; limit?: number }): Promise<ObjectRecord[]>;
  /** Which of `keys` are recorded. */
  recorded(keys: string[]): Promise<Set<string>>;
  /** Which of the stored names `names` a record points to (as its location, or as its key without one). */
  referenced(names: string[]): Promise<Set<string>>;
  /** Deletes the records under `prefix`; returns their keys. */
  deletePrefix(prefix: string): Promise<string[]>;
}

/** Bytes to store: a stream, any async iterable of chunks, or a buffer. */
export type PutBody = Readable | AsyncIterable<Uint8Array> | Uint8Array;

export interface PutOptions {
  contentType?: string;
}

/** A recorded object opened for reading. */
export interface OpenedObject {
  record: ObjectRecord;
  body: Readable;
  /** Size of the stored bytes (equal to `record.size` unless the object was overwritten in between). */
  size: number;
}

export interface SweepOptions {
  /** Unrecorded objects and multipart uploads younger than this are left alone (a writer may be about to record them). */
  graceMs: number;
  /** Clock for the age test [now]. */
  now?: Date;
}

export interface SweepReport {
  /** Keys of unrecorded objects (abandoned uploads, temporary files, objects whose records were deleted) removed. */
  removed: string[];
  /** Multipart uploads older than the grace period that were aborted. */
  abortedUploads: number;
  /**
   * `unsupported` when the server does not list multipart uploads (s3rver, for one): stale uploads then stay
   * until the bucket's own lifecycle rule (AbortIncompleteMultipartUpload) removes them.
   */
  uploadListing: 'done' | 'unsupported' | 'not-applicable';
}

export interface PresignOptions {
  expiresInSeconds: number;
  /** Sent back as `content-disposition: attachment; filename=…`. */
  filename?: string;
  contentType?: string;
}

/**
 * One store of immutable-until-overwritten objects by key (`<experimentId>/report.json`). A reader never sees a
 * half-written object: `put` uploads completely, then records sha256 and size; `get`, `exists` and `list` see
 * recorded objects only, so a writer killed mid-upload leaves nothing visible. A key's bytes are read through
 * its record's `location`: a writer killed between upload and record, or a late one whose record is refused,
 * leaves the recorded bytes as they were.
 */
export interface ArtifactStore {
  readonly kind: 'file' | 's3';
  /** `file:///abs/path` or `s3://bucket/prefix`, for logs and errors. */
  readonly location: string;
  put(key: string, body: PutBody, opts?: PutOptions): Promise<ObjectRecord>;
  putFile(key: string, file: string, opts?: PutOptions): Promise<ObjectRecord>;
  /**
   * `put` without the record: stores the bytes (under `location`, never over bytes a record points to, except
   * in the local folder) and returns what the caller must record itself, e.g. fenced (the workers' hand-offs).
   */
  upload(key: string, body: PutBody, opts?: PutOptions): Promise<ObjectRecord>;
  uploadFile(key: string, file: string, opts?: PutOptions): Promise<ObjectRecord>;
  /** Opens a recorded object; throws `ObjectNotFoundError` when it is not recorded or its bytes are gone. */
  get(key: string): Promise<OpenedObject>;
  /** The record of `key`, or null. */
  head(key: string): Promise<ObjectRecord | null>;
  exists(key: string): Promise<boolean>;
  /** Every recorded object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectRecord[]>;
  /** Deletes the records under `prefix`, then every stored object under it (recorded or not); returns the records deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /** Removes stored objects no record points to and aborts multipart uploads older than the grace period. */
  sweep(opts: SweepOptions): Promise<SweepReport>;
  /** A time-limited URL that reads the object directly, or null when the store cannot make one (local folder). */
  presignedUrl(key: string, opts: PresignOptions): Promise<string | null>;
  close(): Promise<void>;
}

/** `get` of a key that is not recorded (or whose recorded bytes are missing). */
export class ObjectNotFoundError extends Error {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly key: string,
    detail = 'not found',
  ) {
    super(`object ${key}: ${detail}`);
    this.name = 'ObjectNotFoundError';
  }
}

/** A key that cannot name an object (empty, absolute, with `..` or empty segments). */
export class InvalidKeyError extends Error {
  readonly code = 'INVALID_KEY';
  constructor(readonly key: string) {
    super(`invalid object key ${JSON.stringify(key)}: use relative paths like <experimentId>/report.json`);
    this.name = 'InvalidKeyError';
  }
}

/** Checks that `key` is a relative path of non-empty segments, none of them `.` or `..`. */
export function assertKey(key: string): void {
  if (
    !key ||
    key.length > 1024 ||
    key.includes('\0') ||
    key.includes('\\') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..')
  )
    throw new InvalidKeyError(key);
}

/** Checks a prefix: empty (everything) or a key-like path, optionally ending in `/`. */
export function assertPrefix(prefix: string): void {
  if (prefix === '') return;
  assertKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}
