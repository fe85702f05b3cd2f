/**
 * Artifact store put/get cost, local folder vs S3 (s3rver on 127.0.0.1 in its own process), printed on stdout
 * as one JSON object: for a 100 KB and a 10 MB object, the median over `reps` repetitions of
 *  - put: hashing, the upload (local: temporary file, fsync, rename; S3: one PUT or a multipart upload of 8 MiB
 *    parts) and the PostgreSQL record;
 *  - get: the record lookup and reading every byte.
 * Records go to a fresh database (dropped afterwards). s3rver stores on the same disk, so the S3 figures are
 * protocol and SDK overhead, not network or a real object store's latency.
 *
 *   npx tsx bench/artifact-store.ts [reps=5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, ObjectsRepository } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { type ArtifactStore, createArtifactStore } from '@arcal/storage';
import { startS3Server } from '../packages/storage/test/s3-server.ts';
import { gitCommit } from './lib/api-app.ts';

const REPS = Number(process.argv[2] ?? 5);
const SIZES = [
  { label: '100 KB', bytes: 100_000 },
  { label: '10 MB', bytes: 10_000_000 },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function measure(store: ArtifactStore, bytes: number, tag: string) {
  const body = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) body[i] = (i * 131) & 0xff;
  const put: number[] = [];
  const get: number[] = [];
  // one unmeasured round first: connection set-up, prepared statements, JIT
  for (let r = -1; r < REPS; r++) {
    const key = `bench/${tag}/${r}.bin`;
    let t0 = process.hrtime.bigint();
    await store.put(key, body);
    const p = ms(t0);
    t0 = process.hrtime.bigint();
    const o = await store.get(key);
    let n = 0;
    for await (const c of o.body) n += (c as Buffer).length;
    const g = ms(t0);
    if (n !== bytes) throw new Error(`read ${n} bytes of ${bytes}`);
    if (r >= 0) {
      put.push(p);
      get.push(g);
    }
  }
  const mbps = (t: number) => +(bytes / 1e6 / (t / 1000)).toFixed(1);
  return {
    bytes,
    putMs: +median(put).toFixed(2),
    getMs: +median(get).toFixed(2),
    putMBps: mbps(median(put)),
    getMBps: mbps(median(get)),
    putAllMs: put.map((x) => +x.toFixed(2)),
    getAllMs: get.map((x) => +x.toFixed(2)),
  };
}

const integration = await integrationEnv('bench_artifact_store');
if (!integration.available) {
  console.log(JSON.stringify({ skipped: integration.reason }));
  process.exit(0);
}
const env = integration.env;
const db = createDb(env.databaseUrl, { max: 2 });
const records = new ObjectsRepository(db);
const s3 = await startS3Server('arcal-bench');
const dir = mkdtempSync(join(tmpdir(), 'arcal-bench-store-'));
const results: Record<string, unknown> = {};
try {
  const stores: Array<[string, ArtifactStore]> = [['local', await createArtifactStore({ kind: 'file', dir }, records)]];
  if (s3.available)
    stores.push(['s3', await createArtifactStore({ kind: 's3', ...s3.server.location('bench') }, records)]);
  for (const [name, store] of stores) {
    const rows: Record<string, unknown> = {};
    for (const s of SIZES) rows[s.label] = await measure(store, s.bytes, `${name}-${s.bytes}`);
    results[name] = rows;
    await store.close();
  }
  console.log(
    JSON.stringify({
      bench: 'artifact-store',
      commit: gitCommit(),
      node: process.version,
      cpus: cpus().length,
      loadavg: loadavg().map((l) => +l.toFixed(2)),
      reps: REPS,
      s3: s3.available ? 's3rver 3.7.1 on 127.0.0.1 (same disk)' : `skipped: ${s3.reason}`,
      results,
    }),
  );
} finally {
  await db.$disconnect();
  await env.cleanup();
  if (s3.available) await s3.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
