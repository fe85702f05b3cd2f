/**
 * The store's behaviour, the same for every backend: hash while uploading, record only after the upload has
 * completed, read only what is recorded, delete records before bytes, sweep what no record points to. A
 * backend (local folder, S3) only moves bytes and must make each write appear whole or not at all.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  type ArtifactStore,
  assertKey,
  assertPrefix,
  ObjectNotFoundError,
  type ObjectRecord,
  type ObjectRecords,
  type OpenedObject,
  type PresignOptions,
  type PutBody,
  type PutOptions,
  type SweepOptions,
  type SweepReport,
} from './types.ts';

/** A stored object as the backend lists it, recorded or not. */
export interface ScannedObject {
  key: string;
  modified: Date;
}

export interface Backend {
  readonly kind: 'file' | 's3';
  readonly location: string;
  /** Stores the bytes under `key` so that they appear all at once, replacing any earlier ones. */
  write(key: string, body: AsyncIterable<Uint8Array>, contentType: string): Promise<void>;
  /** Opens the bytes under `key`, or null when there are none. */
  open(key: string): Promise<{ body: Readable; size: number } | null>;
  remove(keys: string[]): Promise<void>;
  /** Removes every stored object under `prefix` (for a folder-like prefix, the folder with it). */
  removePrefix(prefix: string): Promise<void>;
  /** Every stored object under `prefix`, temporary and unrecorded ones included, by key. */
  scan(prefix: string): AsyncIterable<ScannedObject>;
  /** Aborts multipart uploads begun before `before`. */
  abortUploads(before: Date): Promise<{ aborted: number; listing: SweepReport['uploadListing'] }>;
  presign(key: string, opts: PresignOptions): Promise<string | null>;
  close(): Promise<void>;
}

async function* asChunks(body: PutBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) yield body;
  else yield* body;
}

/** Passes `source` through while computing its sha256 and length. */
function hashing(source: AsyncIterable<Uint8Array>) {
  const hash = createHash('sha256');
  const out = { sha256: '', size: 0 };
  async function* chunks() {
    for await (const c of source) {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      hash.update(b);
      out.size += b.byteLength;
      yield b;
    }
    out.sha256 = hash.digest('hex');
  }
  return { chunks: chunks(), out };
}

export class RecordedStore implements ArtifactStore {
  constructor(
    private readonly backend: Backend,
    private readonly records: ObjectRecords,
  ) {}

  get kind() {
    return this.backend.kind;
  }

  get location() {
    return this.backend.location;
  }

  /**
   * Where a new upload of `key` goes. In a bucket, a name of its own (`<key>~<random>`), beside the key so that
   * deleting a prefix takes it too: the bytes a record points to are never written again, so a writer killed
   * between upload and record (or a late writer whose fenced record is refused) cannot make recorded bytes
   * differ from their sha256 (s3rver even writes a PUT straight onto its final file). Random rather than the
   * content's hash, which a streamed body only has once uploaded, and so that re-uploading equal bytes does not
   * rewrite them either. The local folder keeps the key: there the folder is shared and jobs write into it
   * in place anyway, and every write is a flushed temporary file renamed over the key, which replaces the
   * file whole at once (a reader that has it open keeps the old bytes), so a file is never partly written.
   */
  private locationFor(key: string): string {
    return this.backend.kind === 'file' ? key : `${key}~${randomBytes(8).toString('hex')}`;
  }

  async upload(key: string, body: PutBody, opts: PutOptions = {}): Promise<ObjectRecord> {
    assertKey(key);
    const contentType = opts.contentType ?? 'application/octet-stream';
    const location = this.locationFor(key);
    const h = hashing(asChunks(body));
    await this.backend.write(location, h.chunks, contentType);
    if (!h.out.sha256) throw new Error(`object ${key}: the upload ended before its body was read to the end`);
    return { key, sha256: h.out.sha256, size: h.out.size, contentType, updatedAt: new Date(), location };
  }

  uploadFile(key: string, file: string, opts: PutOptions = {}): Promise<ObjectRecord> {
    return this.upload(key, createReadStream(file), opts);
  }

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<ObjectRecord> {
    const r = await this.upload(key, body, opts);
    // Recorded only now: until this line a reader gets not-found (or the earlier version), never a partial object.
    await this.records.upsert(r);
    return r;
  }

  putFile(key: string, file: string, opts: PutOptions = {}): Promise<ObjectRecord> {
    return this.put(key, createReadStream(file), opts);
  }

  async get(key: string): Promise<OpenedObject> {
    assertKey(key);
    const record = await this.records.get(key);
    if (!record) throw new ObjectNotFoundError(key);
    const opened = await this.backend.open(record.location);
    if (!opened) throw new ObjectNotFoundError(key, 'recorded but its bytes are gone');
    return { record, ...opened };
  }

  head(key: string): Promise<ObjectRecord | null> {
    assertKey(key);
    return this.records.get(key);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  async list(prefix: string): Promise<ObjectRecord[]> {
    assertPrefix(prefix);
    const out: ObjectRecord[] = [];
    for (;;) {
      const page = await this.records.list(prefix, { after: out.at(-1)?.key ?? '', limit: 1000 });
      out.push(...page);
      if (page.length < 1000) return out;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertPrefix(prefix);
    // Records first: from here on readers get not-found; bytes left by a crash below are the sweep's. Every
    // record's location is its key plus a suffix, so the prefix covers the stored names too.
    const keys = await this.records.deletePrefix(prefix);
    await this.backend.removePrefix(prefix);
    return keys.length;
  }

  async sweep(opts: SweepOptions): Promise<SweepReport> {
    const now = opts.now ?? new Date();
    const cutoff = now.getTime() - opts.graceMs;
    const removed: string[] = [];
    let batch: string[] = [];
    const flush = async () => {
      // by stored name: an earlier upload of a key that was recorded again since is no longer pointed to
      const referenced = await this.records.referenced(batch);
      const gone = batch.filter((k) => !referenced.has(k));
      if (gone.length) await this.backend.remove(gone);
      removed.push(...gone);
      batch = [];
    };
    for await (const o of this.backend.scan('')) {
      if (o.modified.getTime() > cutoff) continue;
      batch.push(o.key);
      if (batch.length === 500) await flush();
    }
    await flush();
    const uploads = await this.backend.abortUploads(new Date(cutoff));
    return { removed, abortedUploads: uploads.aborted, uploadListing: uploads.listing };
  }

  async presignedUrl(key: string, opts: PresignOptions): Promise<string | null> {
    assertKey(key);
    const record = await this.records.get(key);
    if (!record) throw new ObjectNotFoundError(key);
    return this.backend.presign(record.location, opts);
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

/** Reads a whole stream into one buffer (small objects, tests). */
export async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(parts);
}
