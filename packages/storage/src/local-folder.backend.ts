/**
 * Objects as files under one folder (ARTIFACT_DIR; the default, zero set-up): key `a/b.json` is `<root>/a/b.json`,
 * where today's processes already read and write. A write goes to a temporary file beside its target and is
 * renamed over it once flushed, so a file under its final name is always complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Backend, ScannedObject } from './store.ts';

/**
 * Temporary files end with this (`.tmp`, which the workers' folder scan already skips); the sweep removes
 * abandoned ones like any other unrecorded file.
 */
const PART = '.arcal-part.tmp';

export class LocalFolderBackend implements Backend {
  readonly kind = 'file' as const;
  readonly location: string;
  private readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.location = pathToFileURL(this.root).href;
  }

  private path(key: string): string {
    const p = join(this.root, ...key.split('/'));
    // assertKey already refuses `..`; this guards against anything that slipped past it
    if (relative(this.root, p).startsWith('..')) throw new Error(`object key ${key} leaves ${this.root}`);
    return p;
  }

  async write(key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}${PART}`);
    const fh = await open(tmp, 'w');
    try {
      for await (const chunk of body) {
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off)).bytesWritten;
      }
      // flushed before the rename, so a crash cannot leave a complete-looking name over missing data
      await fh.datasync();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await rename(tmp, target);
  }

  async open(key: string): Promise<{ body: Readable; size: number } | null> {
    const file = this.path(key);
    try {
      const fh = await open(file, 'r');
      const st = await fh.stat().catch(() => null);
      if (!st?.isFile()) {
        await fh.close();
        return null;
      }
      return { body: fh.createReadStream(), size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR')
        return null;
      throw err;
    }
  }

  async remove(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const k of keys) {
      const p = this.path(k);
      await rm(p, { force: true });
      dirs.add(dirname(p));
    }
    // folders emptied by the removal go too (an experiment's folder disappears with its last object)
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await this.pruneUp(d);
  }

  async removePrefix(prefix: string): Promise<void> {
    if (prefix.endsWith('/')) {
      // a folder: everything in it goes, empty sub-folders and temporary files included
      const dir = this.path(prefix.slice(0, -1));
      await rm(dir, { recursive: true, force: true });
      await this.pruneUp(dirname(dir));
      return;
    }
    const keys: string[] = [];
    for await (const o of this.scan(prefix)) keys.push(o.key);
    await this.remove(keys);
  }

  private async pruneUp(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
    }
  }

  async *scan(prefix: string): AsyncIterable<ScannedObject> {
    // the folder holding the prefix, then every file whose key starts with it
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    yield* this.walk(base ? this.path(base) : this.root, prefix);
  }

  private async *walk(dir: string, prefix: string): AsyncIterable<ScannedObject> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      const key = relative(this.root, p).split(sep).join('/');
      if (e.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(p, prefix);
      } else if (e.isFile() && key.startsWith(prefix)) {
        const st = await stat(p).catch(() => null);
        if (st) yield { key, modified: st.mtime };
      }
    }
  }

  async abortUploads(): Promise<{ aborted: number; listing: 'not-applicable' }> {
    return { aborted: 0, listing: 'not-applicable' };
  }

  async presign(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {}
}
