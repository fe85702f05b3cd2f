/**
 * A writer killed mid-upload (SIGKILL of a child process in the middle of a 12 MiB stream) leaves nothing
 * recorded and nothing readable; the retry overwrites cleanly; the sweep removes what the dead writer left
 * where the server lets it (s3rver cannot list or abort multipart uploads: that part is checked as
 * "unsupported", and the unfinished upload is shown to stay invisible).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDb, type Db, ObjectsRepository } from '@arcal/db';
import { type IntegrationEnv, integrationEnv } from '@arcal/db/testing';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactStore, LocalFolderBackend, ObjectNotFoundError, RecordedStore, readAll } from '../src/index.ts';
import { S3Backend } from '../src/s3.backend.ts';
import { type S3TestServer, startS3Server } from './s3-server.ts';
import { patterned } from './store-contract.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./put-child.ts', import.meta.url));
const MiB = 2 ** 20;

let env: IntegrationEnv | undefined;
let db: Db | undefined;
let s3: S3TestServer | undefined;
let records: ObjectsRepository;

beforeAll(async () => {
  const r = await integrationEnv('storage_kill');
  if (!r.available) return;
  env = r.env;
  db = createDb(env.databaseUrl, { max: 2 });
  records = new ObjectsRepository(db);
});

afterAll(async () => {
  await db?.$disconnect();
  await env?.cleanup();
  await s3?.stop();
});

/** Starts the writer; resolves once it has handed `readyBytes` to the store and stalled. */
async function startWriter(storeEnv: Record<string, string>, key: string, readyBytes: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...storeEnv,
      DATABASE_URL: env!.databaseUrl,
      PUT_KEY: key,
      PUT_READY_BYTES: `${readyBytes}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  await new Promise<void>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('ready\n')) ok();
    });
    child.on('exit', (code) => fail(new Error(`writer exited (${code}) before stalling: ${stderr.slice(-1500)}`)));
  });
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGKILL');
  await exited;
}

/** Polls `cond` until true (the dead writer's uploads land asynchronously); fails after `ms`. */
async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectInvisible(store: ArtifactStore, key: string, prefix: string): Promise<void> {
  await expect(store.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
  expect(await store.exists(key)).toBe(false);
  expect(await store.head(key)).toBeNull();
  expect(await store.list(prefix)).toEqual([]);
}

async function retryAndRead(store: ArtifactStore, key: string): Promise<void> {
  const content = patterned(7 * MiB + 3, 5);
  const r = await store.put(key, content);
  expect(r).toMatchObject({ size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
  const got = await store.get(key);
  expect(got.size).toBe(content.length);
  expect((await readAll(got.body)).equals(content)).toBe(true);
  expect((await store.list(`${key.split('/')[0]!}/`)).map((o) => o.key)).toEqual([key]);
}

describe('a writer killed mid-upload', () => {
  it('local folder: nothing recorded or readable; the retry overwrites; the sweep removes the temporary file', async (ctx) => {
    if (!env) return ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'arcal-kill-local-'));
    const store = new RecordedStore(new LocalFolderBackend(dir), records);
    const child = await startWriter({ ARTIFACT_URL: `file://${dir}` }, 'k1/ckpt.bin', 12 * MiB);
    // every chunk handed over was written before the next was asked for: 12 MiB sit in a temporary file
    const partial = () => readdirSync(join(dir, 'k1')).filter((f) => f.endsWith('.arcal-part.tmp'));
    expect(partial()).toHaveLength(1);
    expect(statSync(join(dir, 'k1', partial()[0]!)).size).toBe(12 * MiB);
    await kill9(child);

    expect(existsSync(join(dir, 'k1', 'ckpt.bin'))).toBe(false);
    await expectInvisible(store, 'k1/ckpt.bin', 'k1/');
    await retryAndRead(store, 'k1/ckpt.bin');

    const leftover = `k1/${partial()[0]!}`;
    expect((await store.sweep({ graceMs: 3600_000 })).removed).toEqual([]); // still inside the grace period
    const swept = await store.sweep({ graceMs: 3600_000, now: new Date(Date.now() + 2 * 3600_000) });
    expect(swept.removed).toEqual([leftover]);
    expect(readdirSync(join(dir, 'k1'))).toEqual(['ckpt.bin']);
    expect((await readAll((await store.get('k1/ckpt.bin')).body)).length).toBe(7 * MiB + 3);
  });

  it('S3 (s3rver): the unfinished multipart upload stays invisible; the retry overwrites; listing uploads is unsupported', async (ctx) => {
    if (!env) return ctx.skip();
    const started = await startS3Server();
    if (!started.available) return ctx.skip();
    s3 = started.server;
    const backend = new S3Backend(s3.location('kill'), { partSize: 5 * MiB });
    const store = new RecordedStore(backend, records);
    const child = await startWriter({ ...s3.env('kill'), PUT_PART_SIZE: `${5 * MiB}` }, 'k2/ckpt.bin', 12 * MiB);
    // s3rver keeps a multipart upload's parts under <bucket>/._S3rver_uploads/<uploadId>/<n> (+ <n>.md5 when received)
    const uploads = join(s3.dir, s3.bucket, '._S3rver_uploads');
    const parts = () =>
      existsSync(uploads)
        ? readdirSync(uploads).flatMap((u) => readdirSync(join(uploads, u)).filter((f) => f.endsWith('.md5')))
        : [];
    await until('two parts of the upload to reach the server', () => parts().length >= 2);
    await kill9(child);

    expect(readdirSync(uploads)).toHaveLength(1); // begun, never completed
    await expectInvisible(store, 'k2/ckpt.bin', 'k2/');
    const raw = backend.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'kill/k2/ckpt.bin' }));
    await expect(raw).rejects.toMatchObject({ name: 'NoSuchKey' });
    await retryAndRead(store, 'k2/ckpt.bin');

    const swept = await store.sweep({ graceMs: 3600_000, now: new Date(Date.now() + 2 * 3600_000) });
    expect(swept).toEqual({ removed: [], abortedUploads: 0, uploadListing: 'unsupported' });
    expect((await readAll((await store.get('k2/ckpt.bin')).body)).length).toBe(7 * MiB + 3);
    await store.close();
  });
});
