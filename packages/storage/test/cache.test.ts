/**
 * The worker read cache over the S3 store (s3rver) with records in PostgreSQL: two hosts (two cache folders)
 * running the same job and its retry download each input once per host, content shared by two keys is
 * downloaded once, an overwritten key is downloaded anew, the folder may be deleted at any time, and the size
 * cap evicts the least recently used file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, ObjectsRepository } from '@arcal/db';
import { type IntegrationEnv, integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactStore, ObjectNotFoundError, ReadCache, RecordedStore } from '../src/index.ts';
import { S3Backend } from '../src/s3.backend.ts';
import { type S3TestServer, startS3Server } from './s3-server.ts';
import { SHA256_ABC } from './store-contract.ts';

let env: IntegrationEnv | undefined;
let db: Db | undefined;
let s3: S3TestServer | undefined;
let store: ArtifactStore;
let backend: S3Backend;
let records: ObjectsRepository;
/** Runs once after the next `get` through the store has opened its object. */
let afterNextGet: (() => Promise<void>) | undefined;
/** Objects opened through the store (each one a download from S3). */
let gets = 0;

beforeAll(async () => {
  const r = await integrationEnv('storage_cache');
  if (!r.available) return;
  env = r.env;
  const started = await startS3Server();
  if (!started.available) return;
  s3 = started.server;
  db = createDb(env.databaseUrl, { max: 2 });
  backend = new S3Backend(s3.location('cache'));
  records = new ObjectsRepository(db);
  const real = new RecordedStore(backend, records);
  store = Object.assign(Object.create(real) as ArtifactStore, {
    get: async (key: string) => {
      gets++;
      const opened = await real.get(key);
      const hook = afterNextGet;
      afterNextGet = undefined;
      await hook?.();
      return opened;
    },
  });
});

afterAll(async () => {
  await store?.close();
  await db?.$disconnect();
  await env?.cleanup();
  await s3?.stop();
});

const host = (maxBytes = 2 ** 30) =>
  new ReadCache(store, { dir: mkdtempSync(join(tmpdir(), 'arcal-cache-')), maxBytes });
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('read cache (S3 through s3rver)', () => {
  const run = (title: string, fn: () => Promise<void>) =>
    it(title, async (ctx) => {
      if (!s3 || !db) return ctx.skip();
      await fn();
    });

  run('a job and its retry on another host download each input once per host', async () => {
    await store.put('job1/in-a', Buffer.from('abc'));
    await store.put('job1/in-b', Buffer.from('input b'));
    const [a, b] = [host(), host()];
    const before = gets;
    const first = await a.fetch('job1/in-a');
    expect(first.downloaded).toBe(true);
    expect(first.path).toBe(join(a.config.dir, 'sha256', 'ba', SHA256_ABC));
    expect(readFileSync(first.path, 'utf8')).toBe('abc');
    await a.fetch('job1/in-b');
    // the job is retried on host b (twice: each retry reads both inputs again)
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const k of ['job1/in-a', 'job1/in-b']) await b.fetch(k);
    }
    expect((await a.fetch('job1/in-a')).downloaded).toBe(false);
    expect(gets - before).toBe(4); // 2 inputs × 2 hosts
    expect(a.stats).toEqual({ downloads: 2, hits: 1, evicted: 0 });
    expect(b.stats).toEqual({ downloads: 2, hits: 2, evicted: 0 });
    expect(readFileSync((await b.fetch('job1/in-b')).path, 'utf8')).toBe('input b');
  });

  run('the same content under two keys is downloaded once; an overwritten key is downloaded anew', async () => {
    await store.put('job2/x', Buffer.from('same bytes'));
    await store.put('job2/y', Buffer.from('same bytes'));
    const c = host();
    const before = gets;
    const x = await c.fetch('job2/x');
    const y = await c.fetch('job2/y');
    expect(y.path).toBe(x.path);
    expect(gets - before).toBe(1);
    await store.put('job2/x', Buffer.from('new bytes'));
    const x2 = await c.fetch('job2/x');
    expect(x2.downloaded).toBe(true);
    expect(x2.record.sha256).toBe(sha('new bytes'));
    expect(readFileSync(x2.path, 'utf8')).toBe('new bytes');
    expect(gets - before).toBe(2);
  });

  run('concurrent fetches of one object share a single download', async () => {
    await store.put('job3/model', Buffer.alloc(300_000, 1));
    const c = host();
    const before = gets;
    const all = await Promise.all([1, 2, 3, 4].map(() => c.fetch('job3/model')));
    expect(gets - before).toBe(1);
    expect(all.filter((r) => r.downloaded)).toHaveLength(1);
    expect(new Set(all.map((r) => r.path)).size).toBe(1);
    expect(statSync(all[0]!.path).size).toBe(300_000);
  });

  run('the cache folder can be deleted at any time: the next fetch downloads again', async () => {
    await store.put('job4/in', Buffer.from('abc'));
    const c = host();
    await c.fetch('job4/in');
    rmSync(c.config.dir, { recursive: true, force: true });
    const again = await c.fetch('job4/in');
    expect(again.downloaded).toBe(true);
    expect(readFileSync(again.path, 'utf8')).toBe('abc');
    await expect(c.fetch('job4/missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  run('a key overwritten while it downloads is read again and cached under its new content', async () => {
    // stored under the key itself, as every object was before uploads got names of their own (and as the local
    // folder still does): new bytes there replace what the record describes
    await backend.write(
      'job6/in',
      (async function* () {
        yield Buffer.from('old content');
      })(),
      'application/octet-stream',
    );
    await records.upsert({
      key: 'job6/in',
      sha256: sha('old content'),
      size: 11,
      contentType: 'application/octet-stream',
    });
    const c = host();
    // a writer has uploaded new bytes and records them just after the reader opened the object
    await backend.write(
      'job6/in',
      (async function* () {
        yield Buffer.from('abc');
      })(),
      'application/octet-stream',
    );
    afterNextGet = () =>
      records.upsert({ key: 'job6/in', sha256: SHA256_ABC, size: 3, contentType: 'application/octet-stream' });
    const before = gets;
    const got = await c.fetch('job6/in');
    expect(gets - before).toBe(2);
    expect(got.record.sha256).toBe(SHA256_ABC);
    expect(got.path).toBe(join(c.config.dir, 'sha256', 'ba', SHA256_ABC));
    expect(readFileSync(got.path, 'utf8')).toBe('abc');
    expect(existsSync(join(c.config.dir, 'sha256', sha('old content').slice(0, 2), sha('old content')))).toBe(false);
    // bytes that never match their record are an error, and nothing is cached
    await backend.write(
      'job6/in',
      (async function* () {
        yield Buffer.from('unrecorded');
      })(),
      'application/octet-stream',
    );
    const d = host();
    await expect(d.fetch('job6/in')).rejects.toThrow('object job6/in: its content changed during each of 3 downloads');
    expect(existsSync(join(d.config.dir, 'sha256', 'ba', SHA256_ABC))).toBe(false);
  });

  run('over the size cap the least recently accessed files go; a hit counts as an access', async () => {
    for (const n of [1, 2, 3]) await store.put(`job5/o${n}`, Buffer.alloc(100, n));
    const c = host(250);
    const o1 = await c.fetch('job5/o1');
    const o2 = await c.fetch('job5/o2');
    // access times set by hand (file systems update them lazily): o1 older than o2 ...
    utimesSync(o1.path, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    utimesSync(o2.path, new Date('2026-01-02T00:00:00Z'), new Date('2026-01-02T00:00:00Z'));
    // ... until o1 is read again, which makes o2 the least recently used
    const t = Date.now();
    expect((await c.fetch('job5/o1')).downloaded).toBe(false);
    expect(statSync(o1.path).atimeMs).toBeGreaterThanOrEqual(t - 1000);
    const o3 = await c.fetch('job5/o3'); // 300 bytes > 250: one file must go
    expect(c.stats.evicted).toBe(1);
    const present = (p: string) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    };
    expect([present(o1.path), present(o2.path), present(o3.path)]).toEqual([true, false, true]);
    // the evicted object comes back on demand
    expect((await c.fetch('job5/o2')).downloaded).toBe(true);
  });
});
