/** The store contract against the local folder and against S3 (s3rver in its own process), records in PostgreSQL. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db, ObjectsRepository } from '@arcal/db';
import { type IntegrationEnv, integrationEnv } from '@arcal/db/testing';
import { afterAll } from 'vitest';
import { LocalFolderBackend } from '../src/index.ts';
import { S3Backend } from '../src/s3.backend.ts';
import { type S3TestServer, startS3Server } from './s3-server.ts';
import { storeContract } from './store-contract.ts';

const envs: IntegrationEnv[] = [];
const dbs: Db[] = [];
let s3: S3TestServer | undefined;

async function records(name: string): Promise<ObjectsRepository | null> {
  const r = await integrationEnv(name);
  if (!r.available) return null;
  envs.push(r.env);
  const db = createDb(r.env.databaseUrl, { max: 2 });
  dbs.push(db);
  return new ObjectsRepository(db);
}

afterAll(async () => {
  for (const db of dbs) await db.$disconnect();
  for (const e of envs) await e.cleanup();
  await s3?.stop();
});

storeContract('local folder', async () => {
  const repo = await records('storage_local');
  if (!repo) return null;
  const backend = new LocalFolderBackend(mkdtempSync(join(tmpdir(), 'arcal-store-local-')));
  return { backend, records: repo, uploadListing: 'not-applicable', presigns: false };
});

storeContract('S3 (s3rver)', async () => {
  const server = await startS3Server();
  if (!server.available) return null;
  s3 = server.server;
  const repo = await records('storage_s3');
  if (!repo) return null;
  // 5 MiB parts (S3's minimum), so the 12 MiB object takes three
  const backend = new S3Backend(s3.location('contract'), { partSize: 5 * 2 ** 20 });
  return { backend, records: repo, uploadListing: 'unsupported', presigns: true };
});
