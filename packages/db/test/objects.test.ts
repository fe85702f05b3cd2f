/** Records of the artifact store's objects (real PostgreSQL): the repository, artifacts as objects, the backfill. */
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations, createDb, createRepositories, MIGRATIONS_DIR } from '../src/index.ts';
import { integrationEnv } from '../src/testing.ts';

const integration = await integrationEnv('objects');
const env = integration.available ? integration.env : undefined;
const db = env ? createDb(env.databaseUrl, { max: 2 }) : undefined;
const repos = db ? createRepositories(db) : undefined;

afterAll(async () => {
  await db?.$disconnect();
  await env?.cleanup();
});

const sha = (c: string) => c.repeat(64);

describe.skipIf(!env)('objects repository (real PostgreSQL)', () => {
  it('upsert records, re-records on overwrite, and reads back with a numeric size', async () => {
    await repos!.objects.upsert({ key: 'u/a', sha256: sha('1'), size: 5_000_000_000, contentType: 'x/y' });
    expect(await repos!.objects.get('u/a')).toMatchObject({
      key: 'u/a',
      sha256: sha('1'),
      size: 5_000_000_000,
      contentType: 'x/y',
    });
    await repos!.objects.upsert({ key: 'u/a', sha256: sha('2'), size: 7, contentType: 'text/plain' });
    expect(await repos!.objects.get('u/a')).toMatchObject({ sha256: sha('2'), size: 7, contentType: 'text/plain' });
    expect(await repos!.objects.get('u/none')).toBeNull();
  });

  it('list pages through a prefix in key order; recorded() and deletePrefix() take the prefix literally', async () => {
    const keys = ['l/a_1', 'l/a_2', 'l/ab', 'l/a%', 'l/b', 'm/a_1'];
    for (const key of keys) await repos!.objects.upsert({ key, sha256: sha('0'), size: 1, contentType: 'a/b' });
    const first = await repos!.objects.list('l/', { limit: 2 });
    const second = await repos!.objects.list('l/', { after: first.at(-1)!.key, limit: 10 });
    const all = [...first, ...second].map((r) => r.key);
    expect(new Set(all)).toEqual(new Set(['l/a_1', 'l/a_2', 'l/ab', 'l/a%', 'l/b']));
    expect(all).toHaveLength(5);
    expect((await repos!.objects.list('l/a_')).map((r) => r.key).sort()).toEqual(['l/a_1', 'l/a_2']);
    expect(await repos!.objects.recorded(['l/b', 'l/c', 'm/a_1'])).toEqual(new Set(['l/b', 'm/a_1']));
    expect((await repos!.objects.deletePrefix('l/a%')).sort()).toEqual(['l/a%']);
    expect((await repos!.objects.deletePrefix('l/')).sort()).toEqual(['l/a_1', 'l/a_2', 'l/ab', 'l/b']);
    expect(await repos!.objects.get('m/a_1')).not.toBeNull();
  });

  it('a record points at its location, the key itself when it has none; referenced() answers by stored name', async () => {
    await repos!.objects.upsert({ key: 'v/old', sha256: sha('1'), size: 1, contentType: 'a/b' });
    await repos!.objects.upsert({ key: 'v/k', sha256: sha('2'), size: 2, contentType: 'a/b', location: 'v/k~01' });
    expect(await repos!.objects.get('v/old')).toMatchObject({ key: 'v/old', location: 'v/old' });
    expect(await repos!.objects.get('v/k')).toMatchObject({ key: 'v/k', sha256: sha('2'), location: 'v/k~01' });
    expect((await repos!.objects.list('v/')).map((r) => r.location)).toEqual(['v/k~01', 'v/old']);
    expect(await repos!.objects.referenced(['v/old', 'v/k', 'v/k~01', 'v/k~02'])).toEqual(new Set(['v/old', 'v/k~01']));
    // recorded again elsewhere: the earlier upload is no longer pointed to
    await repos!.objects.upsert({ key: 'v/k', sha256: sha('3'), size: 3, contentType: 'a/b', location: 'v/k~02' });
    expect(await repos!.objects.referenced(['v/k~01', 'v/k~02'])).toEqual(new Set(['v/k~02']));
    // a write without a location (the local folder) has its bytes under the key
    await repos!.objects.upsert({ key: 'v/k', sha256: sha('4'), size: 4, contentType: 'a/b' });
    expect(await repos!.objects.referenced(['v/k', 'v/k~02'])).toEqual(new Set(['v/k']));
  });

  it('recording an artifact records its file as a store object under the same key', async () => {
    const project = await repos!.projects.ensureProject('objects-test');
    const [e] = await db!.$queryRawUnsafe<Array<{ id: string }>>(
      `INSERT INTO experiments (id, project_id, name, spec, estimate, updated_at)
       VALUES (gen_random_uuid(), $1::uuid, 'e', '{}', '{}', now()) RETURNING id`,
      project.id,
    );
    await repos!.results.recordArtifact(e!.id, {
      name: 'report.json',
      path: `${e!.id}/report.json`,
      sha256: sha('a'),
      size: 12,
      contentType: 'application/json',
    });
    expect(await repos!.objects.get(`${e!.id}/report.json`)).toMatchObject({
      sha256: sha('a'),
      size: 12,
      contentType: 'application/json',
    });
    // uploaded to a name of its own and recorded, then recorded as an artifact: the location stays
    await repos!.objects.upsert({
      key: `${e!.id}/report.json`,
      sha256: sha('b'),
      size: 13,
      contentType: 'application/json',
      location: `${e!.id}/report.json~0a`,
    });
    // recorded again with new content: both rows follow
    await repos!.results.recordArtifact(e!.id, {
      name: 'report.json',
      path: `${e!.id}/report.json`,
      sha256: sha('b'),
      size: 13,
    });
    expect(await repos!.objects.get(`${e!.id}/report.json`)).toMatchObject({
      sha256: sha('b'),
      size: 13,
      location: `${e!.id}/report.json~0a`,
    });
    expect(await repos!.results.getArtifact(e!.id, 'report.json')).toMatchObject({ sha256: sha('b'), size: 13n });
  });

  it('the migration records artifacts written before it as objects (newest row per path)', async () => {
    const admin = new pg.Client({ connectionString: env!.databaseUrl });
    await admin.connect();
    const name = `${new URL(env!.databaseUrl).pathname.slice(1)}_bf`;
    await admin.query(`CREATE DATABASE "${name}"`);
    const u = new URL(env!.databaseUrl);
    u.pathname = `/${name}`;
    const c = new pg.Client({ connectionString: u.toString() });
    try {
      // the migrations before stored_objects, then rows, then the rest
      const older = mkdtempSync(join(tmpdir(), 'arcal-migr-'));
      for (const m of readdirSync(MIGRATIONS_DIR))
        if (m < '20261207000000' || m === 'migration_lock.toml')
          cpSync(join(MIGRATIONS_DIR, m), join(older, m), { recursive: true });
      await applyMigrations(u.toString(), older);
      await c.connect();
      await c.query(`INSERT INTO projects (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'p')`);
      await c.query(`INSERT INTO experiments (id, project_id, name, spec, estimate, updated_at) VALUES
        ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'e', '{}', '{}', now())`);
      await c.query(`INSERT INTO artifacts (id, experiment_id, name, path, sha256, size, content_type, created_at) VALUES
        (gen_random_uuid(), '00000000-0000-4000-8000-000000000002', 'a', 'x/a.bin', '${sha('1')}', 4, 'application/octet-stream', '2026-01-01'),
        (gen_random_uuid(), '00000000-0000-4000-8000-000000000002', 'a2', 'x/a.bin', '${sha('2')}', 5, 'application/octet-stream', '2026-02-01'),
        (gen_random_uuid(), '00000000-0000-4000-8000-000000000002', 'r', 'x/r.json', '${sha('3')}', 6, 'application/json', '2026-01-01')`);
      expect(await applyMigrations(u.toString(), MIGRATIONS_DIR)).toEqual([
        '20261207000000_stored_objects',
        '20261207180000_stored_objects_location',
      ]);
      const rows = await c.query(
        'SELECT key, sha256, size::int AS size, content_type AS "contentType" FROM stored_objects ORDER BY key',
      );
      expect(rows.rows).toEqual([
        { key: 'x/a.bin', sha256: sha('2'), size: 5, contentType: 'application/octet-stream' },
        { key: 'x/r.json', sha256: sha('3'), size: 6, contentType: 'application/json' },
      ]);
      // rows from before locations keep their bytes under the key: no location of their own
      expect((await c.query('SELECT location FROM stored_objects')).rows).toEqual([
        { location: null },
        { location: null },
      ]);
    } finally {
      await c.end().catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
