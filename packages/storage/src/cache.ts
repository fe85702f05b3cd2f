/**
 * A worker host's read cache of store objects, keyed by content (the sha256 in the object's record): an input
 * is downloaded once per host however many jobs (or retries of one job) read it, and a key overwritten with
 * new content gets a new file. Files hold exactly the bytes whose sha256 names them (checked while
 * downloading) and nothing else is kept, so the folder may be deleted at any time: the cost is a new download.
 * Above `maxBytes` the least recently used files go (access time, set explicitly on every hit since most
 * mounts do not update it on reads).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { CacheConfig } from './config.ts';
import { type ArtifactStore, ObjectNotFoundError, type ObjectRecord } from './types.ts';

const PART = '.part';
/** Temporary files of a downloader that died are removed after this long. */
const STALE_PART_MS = 3600_000;

export interface CachedObject {
  /** Local file with the object's bytes; open it right away (an eviction or a deleted cache may remove it later). */
  path: string;
  record: ObjectRecord;
  /** Whether this call downloaded it. */
  downloaded: boolean;
}

export class ReadCache {
  /** Objects downloaded and hits since this cache was made (for logs and tests). */
  readonly stats = { downloads: 0, hits: 0, evicted: 0 };
  private readonly inFlight = new Map<string, Promise<CachedObject>>();

  constructor(
    private readonly store: ArtifactStore,
    readonly config: CacheConfig,
  ) {}

  private fileOf(sha256: string): string {
    return join(this.config.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /** The local copy of the recorded object `key`, downloaded unless its content is already here. */
  async fetch(key: string): Promise<CachedObject> {
    const record = await this.store.head(key);
    if (!record) throw new ObjectNotFoundError(key);
    const file = this.fileOf(record.sha256);
    const now = new Date();
    try {
      const st = await stat(file);
      await utimes(file, now, st.mtime);
      this.stats.hits++;
      return { path: file, record, downloaded: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let pending = this.inFlight.get(record.sha256);
    if (!pending) {
      pending = this.download(key).finally(() => this.inFlight.delete(record.sha256));
      this.inFlight.set(record.sha256, pending);
      return pending;
    }
    const r = await pending;
    return { ...r, downloaded: false };
  }

  private async download(key: string): Promise<CachedObject> {
    // A key overwritten between reading its record and opening its bytes yields bytes of another hash: read
    // both again (a writer that keeps overwriting the key for three tries in a row is an error).
    for (let attempt = 1; ; attempt++) {
      const got = await this.downloadOnce(key);
      if (got !== 'changed') return got;
      if (attempt === 3) throw new Error(`object ${key}: its content changed during each of 3 downloads`);
    }
  }

  private async downloadOnce(key: string): Promise<CachedObject | 'changed'> {
    // the record read with the bytes: a key overwritten since `fetch` looked is cached under its new content
    const { record, body } = await this.store.get(key);
    const file = this.fileOf(record.sha256);
    await mkdir(join(file, '..'), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}${PART}`;
    const hash = createHash('sha256');
    const fh = await open(tmp, 'w');
    try {
      for await (const c of body) {
        const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
        hash.update(b);
        let off = 0;
        while (off < b.byteLength) off += (await fh.write(b, off)).bytesWritten;
      }
      await fh.close();
    } catch (err) {
      body.destroy();
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    if (hash.digest('hex') !== record.sha256) {
      await rm(tmp, { force: true });
      return 'changed';
    }
    await rename(tmp, file);
    this.stats.downloads++;
    await this.evict(file);
    return { path: file, record, downloaded: true };
  }

  /** Deletes least recently used files until the total is within `maxBytes`; `keep` stays whatever its size. */
  async evict(keep?: string): Promise<void> {
    const root = join(this.config.dir, 'sha256');
    const files: Array<{ path: string; size: number; atime: number }> = [];
    let total = 0;
    const now = Date.now();
    for (const d of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, d)).catch(() => [] as string[])) {
        const path = join(root, d, name);
        const st = await stat(path).catch(() => null);
        if (!st?.isFile()) continue;
        if (name.endsWith(PART)) {
          if (now - st.mtimeMs > STALE_PART_MS) await rm(path, { force: true });
          continue;
        }
        files.push({ path, size: st.size, atime: st.atimeMs });
        total += st.size;
      }
    }
    if (total <= this.config.maxBytes) return;
    files.sort((a, b) => a.atime - b.atime);
    for (const f of files) {
      if (total <= this.config.maxBytes) break;
      if (f.path === keep) continue;
      await rm(f.path, { force: true });
      total -= f.size;
      this.stats.evicted++;
    }
  }
}
