/**
 * Artifact downloads and deletions through the artifact store: the local folder (today's behaviour, files
 * written by workers and recorded afterwards) and S3 (s3rver in its own process), streamed or redirected to a
 * presigned URL (ARTIFACT_PRESIGN=1), with the same authentication and 404 rules.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../../packages/storage/src/s3.backend.ts';
import { type S3TestServer, startS3Server } from '../../../packages/storage/test/s3-server.ts';
import { loadConfig } from '../src/config.ts';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_artifacts');
const env = integration.available ? integration.env : undefined;

// FIPS 180-2 test vector: sha256("abc")
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const spec = () => JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8'));

type App = Awaited<ReturnType<typeof testApp>>;

async function setup(t: App) {
  const key = (await t.deps.repos.projects.createApiKey('team-a')).key;
  const otherKey = (await t.deps.repos.projects.createApiKey('team-b')).key;
  const auth = (k = key) => ({ authorization: `Bearer ${k}` });
  const newExperiment = async (): Promise<string> => {
    const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth(), payload: spec() });
    expect(r.statusCode, r.body).toBe(202);
    return r.json().id;
  };
  const finish = async (id: string) => {
    await t.deps.repos.experiments.transition(id, ['queued'], 'running');
    await t.deps.repos.experiments.transition(id, ['running'], 'succeeded');
  };
  const download = (id: string, name: string, headers: Record<string, string> = auth()) =>
    t.app.inject({ url: `/v1/experiments/${id}/artifacts/${name}`, headers });
  return { auth, otherKey, newExperiment, finish, download };
}

describe('artifact configuration of the API', () => {
  it('ARTIFACT_DIR, a file:// ARTIFACT_URL or an s3:// one with the AWS variables; ARTIFACT_PRESIGN', () => {
    expect(loadConfig({})).toMatchObject({ artifactDir: './runs/service', artifactS3: null, artifactPresign: false });
    expect(loadConfig({ ARTIFACT_DIR: '/srv/arcal' })).toMatchObject({ artifactDir: '/srv/arcal', artifactS3: null });
    expect(loadConfig({ ARTIFACT_URL: 'file:///var/lib/arcal/artifacts', ARTIFACT_DIR: '/srv/arcal' })).toMatchObject({
      artifactDir: '/var/lib/arcal/artifacts',
      artifactS3: null,
    });
    const c = loadConfig({
      ARTIFACT_URL: 's3://arcal/prod',
      AWS_ENDPOINT_URL: 'http://minio:9000',
      AWS_S3_FORCE_PATH_STYLE: 'true',
      ARTIFACT_PRESIGN: '1',
    });
    expect(c.artifactS3).toEqual({
      bucket: 'arcal',
      prefix: 'prod/',
      endpoint: 'http://minio:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      kind: 's3',
    });
    expect(c.artifactPresign).toBe(true);
    expect(() => loadConfig({ ARTIFACT_URL: 'ftp://x/y' })).toThrow('ARTIFACT_URL: unsupported scheme "ftp:"');
  });
});

describe.skipIf(!env)('artifacts in the local folder (real PostgreSQL + Redis)', () => {
  let t: App;
  let h: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    t = await testApp(env!);
    h = await setup(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves a file a worker wrote and recorded, with its headers', async () => {
    const id = await h.newExperiment();
    mkdirSync(join(t.config.artifactDir, id), { recursive: true });
    writeFileSync(join(t.config.artifactDir, id, 'report.json'), 'abc');
    await t.deps.repos.results.recordArtifact(id, {
      name: 'report.json',
      path: `${id}/report.json`,
      sha256: SHA256_ABC,
      size: 3,
      contentType: 'application/json',
    });
    const r = await h.download(id, 'report.json');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toBe('abc');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['content-length']).toBe('3');
    expect(r.headers.etag).toBe(`"${SHA256_ABC}"`);
    expect(r.headers['content-disposition']).toBe('attachment; filename="report.json"');
  });

  it('serves an object put through the store', async () => {
    const id = await h.newExperiment();
    const bytes = Buffer.alloc(70_000, 7);
    const rec = await t.deps.store.put(`${id}/members/0/weights.bin`, bytes);
    await t.deps.repos.results.recordArtifact(id, {
      name: 'members_0_weights.bin',
      path: rec.key,
      sha256: rec.sha256,
      size: rec.size,
    });
    const r = await h.download(id, 'members_0_weights.bin');
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.equals(bytes)).toBe(true);
    expect(r.headers['content-type']).toBe('application/octet-stream');
  });

  it("keeps today's 404 and 401 rules", async () => {
    const id = await h.newExperiment();
    const rec = async (name: string, path: string) =>
      t.deps.repos.results.recordArtifact(id, { name, path, sha256: SHA256_ABC, size: 3 });
    const nf = async (name: string, message: string, headers?: Record<string, string>) => {
      const r = await h.download(id, name, headers);
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ code: 'NOT_FOUND', message });
    };
    await nf('nope', 'artifact nope not found');
    // recorded, but the file was removed afterwards
    await t.deps.store.put(`${id}/gone.bin`, Buffer.from('abc'));
    await rec('gone.bin', `${id}/gone.bin`);
    rmSync(join(t.config.artifactDir, id, 'gone.bin'));
    await nf('gone.bin', 'artifact gone.bin is recorded but its file is gone');
    // a path that leaves the folder names nothing
    await rec('evil', '../outside.txt');
    await nf('evil', 'artifact evil not found');
    // a file that was never recorded as an object (a write still in progress) is not served
    writeFileSync(join(t.config.artifactDir, id, 'half.bin'), 'ab');
    await t.deps.db.artifact.create({
      data: { experimentId: id, name: 'half.bin', path: `${id}/half.bin`, sha256: SHA256_ABC, size: 3n },
    });
    await nf('half.bin', 'artifact half.bin is recorded but its file is gone');
    // another project's experiment does not exist for this key; no key is 401
    await t.deps.store.put(`${id}/ok.txt`, Buffer.from('abc'));
    await rec('ok.txt', `${id}/ok.txt`);
    expect((await h.download(id, 'ok.txt')).statusCode).toBe(200);
    const other = await h.download(id, 'ok.txt', h.auth(h.otherKey));
    expect(other.statusCode).toBe(404);
    expect(other.json().message).toBe(`experiment ${id} not found`);
    expect((await h.download(id, 'ok.txt', {})).statusCode).toBe(401);
  });

  it('deleting an experiment deletes its folder and its object records', async () => {
    const id = await h.newExperiment();
    await t.deps.store.put(`${id}/a.bin`, Buffer.from('a'));
    await t.deps.store.put(`${id}/deep/b.bin`, Buffer.from('b'));
    mkdirSync(join(t.config.artifactDir, id, 'empty'), { recursive: true });
    await h.finish(id);
    const r = await t.app.inject({ method: 'DELETE', url: `/v1/experiments/${id}`, headers: h.auth() });
    expect(r.statusCode, r.body).toBe(204);
    expect(existsSync(join(t.config.artifactDir, id))).toBe(false);
    expect(await t.deps.repos.objects.list(`${id}/`)).toEqual([]);
  });
});

describe.skipIf(!env)('artifacts in S3 (s3rver in its own process)', () => {
  let s3: S3TestServer | undefined;
  let streamed: App;
  let presigned: App;
  let h: Awaited<ReturnType<typeof setup>>;
  let hp: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    const started = await startS3Server();
    if (!started.available) return;
    s3 = started.server;
    streamed = await testApp(env!, { artifactS3: s3.location('api') });
    presigned = await testApp(env!, { artifactS3: s3.location('api'), artifactPresign: true });
    h = await setup(streamed);
    hp = await setup(presigned);
  });
  afterAll(async () => {
    await streamed?.close();
    await presigned?.close();
    await s3?.stop();
  });
  const run = (title: string, fn: () => Promise<void>) =>
    it(title, async (ctx) => {
      if (!s3) return ctx.skip();
      await fn();
    });

  run('streams an object from the bucket with the same headers', async () => {
    const id = await h.newExperiment();
    const bytes = Buffer.alloc(6 * 2 ** 20 + 5, 3);
    const rec = await streamed.deps.store.put(`${id}/model.bin`, bytes);
    await streamed.deps.repos.results.recordArtifact(id, {
      name: 'model.bin',
      path: rec.key,
      sha256: rec.sha256,
      size: rec.size,
    });
    const r = await h.download(id, 'model.bin');
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.equals(bytes)).toBe(true);
    expect(r.headers['content-length']).toBe(String(bytes.length));
    expect(r.headers.etag).toBe(`"${rec.sha256}"`);
    // recorded as an artifact but absent from the bucket (a worker's local file never uploaded)
    await streamed.deps.repos.results.recordArtifact(id, {
      name: 'local-only.json',
      path: `${id}/local-only.json`,
      sha256: SHA256_ABC,
      size: 3,
    });
    const gone = await h.download(id, 'local-only.json');
    expect(gone.statusCode).toBe(404);
    expect(gone.json().message).toBe('artifact local-only.json is recorded but its file is gone');
  });

  run('ARTIFACT_PRESIGN=1 redirects to a presigned URL that serves the object', async () => {
    const id = await hp.newExperiment();
    const rec = await presigned.deps.store.put(`${id}/report.json`, Buffer.from('abc'), {
      contentType: 'application/json',
    });
    await presigned.deps.repos.results.recordArtifact(id, {
      name: 'report.json',
      path: rec.key,
      sha256: rec.sha256,
      size: rec.size,
      contentType: 'application/json',
    });
    const r = await hp.download(id, 'report.json');
    expect(r.statusCode).toBe(302);
    const location = new URL(r.headers.location as string);
    expect(location.origin).toBe(s3!.endpoint);
    // the upload's own stored name, beside its key, which the record points to
    expect(rec.location.startsWith(`${id}/report.json~`)).toBe(true);
    expect(location.pathname).toBe(`/${s3!.bucket}/api/${rec.location}`);
    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(await direct.text()).toBe('abc');
    expect(direct.headers.get('content-disposition')).toBe('attachment; filename="report.json"');
    expect(direct.headers.get('content-type')).toBe('application/json');
    // the same rules before any redirect
    expect((await hp.download(id, 'nope')).statusCode).toBe(404);
    expect((await hp.download(id, 'report.json', {})).statusCode).toBe(401);
    expect((await hp.download(id, 'report.json', hp.auth(hp.otherKey))).statusCode).toBe(404);
  });

  run('deleting an experiment deletes its objects from the bucket and their records', async () => {
    const id = await h.newExperiment();
    await streamed.deps.store.put(`${id}/a.bin`, Buffer.from('a'));
    await streamed.deps.store.put(`${id}/b/c.bin`, Buffer.from('c'));
    const keep = await h.newExperiment();
    await streamed.deps.store.put(`${keep}/a.bin`, Buffer.from('kept'));
    await h.finish(id);
    const r = await streamed.app.inject({ method: 'DELETE', url: `/v1/experiments/${id}`, headers: h.auth() });
    expect(r.statusCode, r.body).toBe(204);
    const bucket = new S3Backend(s3!.location('api'));
    const left: string[] = [];
    for await (const o of bucket.scan('')) left.push(o.key);
    await bucket.close();
    expect(left.filter((k) => k.startsWith(`${id}/`))).toEqual([]);
    // each upload is stored under a name of its own beside its key, which the record points to
    expect(left).toContain((await streamed.deps.repos.objects.get(`${keep}/a.bin`))?.location);
    expect(await streamed.deps.repos.objects.list(`${id}/`)).toEqual([]);
    expect((await streamed.deps.repos.objects.get(`${keep}/a.bin`))?.size).toBe(4);
  });
});

afterAll(() => env?.cleanup());
