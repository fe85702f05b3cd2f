/**
 * Artifact store cost, local folder vs S3 (s3rver on 127.0.0.1 in its own process), printed on stdout as one JSON
 * object (the last line). Two parts:
 *
 * 1. put/get: for a 100 KB and a 10 MB object, the median over `reps` repetitions of
 *    - put: hashing, the upload (local: temporary file, fsync, rename; S3: one PUT or a multipart upload of 8 MiB
 *      parts) and the PostgreSQL record;
 *    - get: the record lookup and reading every byte.
 * 2. hand-offs: what a job spends moving its inputs and outputs through the store (workers/src/handoff.ts), for the
 *    real files of a small experiment. The experiment (Fashion-MNIST subset, CNN, precomputed AR-AdaLS ranking,
 *    3-member joint ensemble, 2 epochs; `HANDOFF_SPEC` below) first runs through the service (API and one
 *    `arcal-worker`, S3 store) so that every hand-off file is the one the graph really writes. Its recorded
 *    objects are downloaded, then replayed into each store with the workers' own `JobFolder`:
 *    - publish (what a job does with its outputs): sha256 of each file, the upload, the record (split by timers);
 *    - cold read: `materialise` with an empty cache (record lookups, downloads, copies into the job's folder);
 *    - warm read: `materialise` again on the same cache (every object a cache hit, copied from the cache).
 *    Per group of files (reference checkpoint, robustness shards, merged ranking, member checkpoints, joint
 *    per-epoch files: each group published, then read), and per job kind, for the last job of the kind to finish:
 *    its reads are its kind's HANDOFF prefixes (graph.ts) over the objects that existed when it started (stored
 *    unmeasured first), its writes the objects first recorded during its run plus those it rewrites (REWRITES:
 *    e.g. the last member-epoch job writes its member's checkpoint and one per-epoch file). Medians over
 *    `handoffReps`, each under a fresh experiment id, after one unmeasured replay.
 *    With a `file://` store the workers use the folder itself and hand nothing over (handoff.ts): the local
 *    figures are what the same hand-off code costs on a local folder, the floor under S3's.
 *
 * Records go to a fresh database (dropped afterwards). s3rver stores on the same disk, so the S3 figures are
 * protocol and SDK overhead, not network or a real object store's latency.
 *
 *   npx tsx bench/artifact-store.ts [reps=5] [handoffReps=3]
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { JobKind } from '@arcal/contracts';
import { createDb, ObjectsRepository } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { type ArtifactStore, createArtifactStore, ReadCache } from '@arcal/storage';
import pg from 'pg';
import { startS3Server } from '../packages/storage/test/s3-server.ts';
import { resolve } from '../test/e2e/compare.ts';
import { followEvents, outcome, startService } from '../test/e2e/harness.ts';
import { HANDOFF, type HandoffPaths } from '../workers/src/graph.ts';
import { type Handoff, JobFolder } from '../workers/src/handoff.ts';
import { gitCommit } from './lib/api-app.ts';

const REPS = Number(process.argv[2] ?? 5);
const HANDOFF_REPS = Number(process.argv[3] ?? 3);
const SIZES = [
  { label: '100 KB', bytes: 100_000 },
  { label: '10 MB', bytes: 10_000_000 },
];

/** The small experiment whose hand-off files are replayed: every kind of hand-off file appears once or more. */
const HANDOFF_SPEC = {
  name: 'bench-handoff',
  seed: 1,
  dataset: { name: 'fashion-mnist', trainLimit: 1024, validationSize: 256, testLimit: 256 },
  model: { arch: 'cnn' },
  training: { epochs: 2, batchSize: 64, optimizer: 'adam', learningRate: 0.001 },
  method: {
    kind: 'ar-adals',
    subsets: 2,
    alpha: 1,
    robustness: { attack: 'fmn-l2', source: 'precompute', params: { steps: 10, batchSize: 64 } },
  },
  ensemble: { members: 3, mode: 'joint' },
  evaluation: { bins: 10, robustnessSubsets: 2, robustness: { reference: 'vanilla' } },
};
/** Robustness shard size for that run (the default, 4096, would give one shard per split at these sizes). */
const SHARD_EXAMPLES = 256;
/** Groups of hand-off files, by key prefix under the experiment. */
const GROUPS: Array<[string, string]> = [
  ['reference checkpoint', 'reference/model/'],
  ['robustness shards', 'reference/shards/'],
  ['merged ranking', 'reference/robustness-'],
  ['member checkpoints', 'members/'],
  ['joint per-epoch files', 'joint/'],
];

/**
 * Objects a later job of a kind writes again although an earlier one created them (their records keep only the
 * first creation time): a member's checkpoint at each of its epochs, the joint history at each epoch barrier.
 */
const REWRITES: Partial<Record<JobKind, string[]>> = {
  'train:member': ['members/'],
  'train:member-epoch': ['members/'],
  'orchestrate:epoch-barrier': ['joint.json'],
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const r2 = (x: number) => +x.toFixed(2);

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
    putMs: r2(median(put)),
    getMs: r2(median(get)),
    putMBps: mbps(median(put)),
    getMBps: mbps(median(get)),
    putAllMs: put.map(r2),
    getAllMs: get.map(r2),
  };
}

/** A hand-off to replay: the prefixes a job reads, and the files (relative to the experiment) it writes. */
interface Replay {
  reads: string[];
  writes: string[];
}

/** Adds the time spent in `obj[name]` to `acc.ms`. */
function timed<T extends object>(obj: T, name: keyof T & string, acc: { ms: number }): T {
  const inner = obj[name] as unknown as (...a: unknown[]) => Promise<unknown>;
  const wrapped = Object.create(obj) as T;
  (wrapped as Record<string, unknown>)[name] = async (...a: unknown[]) => {
    const t0 = process.hrtime.bigint();
    try {
      return await inner.apply(obj, a);
    } finally {
      acc.ms += ms(t0);
    }
  };
  return wrapped;
}

/**
 * One replay of a job's hand-off into `store` under the experiment id `exp`, whose inputs `replay` has stored: its
 * reads cold (empty cache), then warm (same cache), each into a fresh job folder; then the publish of its writes
 * (copied from `src`, the downloaded run).
 */
async function replayOnce(store: ArtifactStore, records: ObjectsRepository, src: string, exp: string, job: Replay) {
  const scratch = await mkdtemp(join(tmpdir(), 'arcal-bench-handoff-'));
  try {
    const upload = { ms: 0 };
    const record = { ms: 0 };
    const fetch = { ms: 0 };
    const h = (cache: ReadCache): Handoff => ({
      store: timed(store, 'uploadFile', upload),
      cache,
      objects: timed(records, 'upsert', record),
      workDir: join(scratch, 'work'),
    });
    const cache = timed(new ReadCache(store, { dir: join(scratch, 'cache'), maxBytes: 2 ** 40 }), 'fetch', fetch);
    const reads: Array<{ ms: number; fetchMs: number; files: number }> = [];
    for (const name of ['cold', 'warm']) {
      fetch.ms = 0;
      const folder = new JobFolder(h(cache), join(scratch, name), exp, { reads: job.reads, writes: [] }, null);
      const t0 = process.hrtime.bigint();
      const files = await folder.materialise();
      reads.push({ ms: ms(t0), fetchMs: fetch.ms, files });
    }
    // the job's output files in its folder, then JobFolder.publish as after a handler
    const out = join(scratch, 'out');
    for (const rel of job.writes) {
      await mkdir(dirname(join(out, exp, rel)), { recursive: true });
      await copyFile(join(src, rel), join(out, exp, rel));
    }
    const writer = new JobFolder(h(cache), out, exp, { reads: [], writes: job.writes }, null);
    const t0 = process.hrtime.bigint();
    await writer.publish();
    const publishMs = ms(t0);
    if (writer.published.length !== job.writes.length)
      throw new Error(`published ${writer.published.length} of ${job.writes.length} files`);
    return { publishMs, uploadMs: upload.ms, recordMs: record.ms, cold: reads[0]!, warm: reads[1]! };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Median figures of `HANDOFF_REPS` replays of `job` (each under a fresh experiment id, after one unmeasured one). */
async function replay(
  store: ArtifactStore,
  records: ObjectsRepository,
  src: string,
  tag: string,
  job: Replay,
  sizes: Map<string, number>,
  inputs: string[],
) {
  const runs: Array<Awaited<ReturnType<typeof replayOnce>>> = [];
  for (let r = -1; r < HANDOFF_REPS; r++) {
    const exp = `bench-handoff/${tag}/${r + 1}`;
    for (const rel of inputs) await store.putFile(`${exp}/${rel}`, join(src, rel));
    const got = await replayOnce(store, records, src, exp, job);
    if (r >= 0) runs.push(got);
  }
  const m = (f: (x: Awaited<ReturnType<typeof replayOnce>>) => number) => r2(median(runs.map(f)));
  return {
    writes: { files: job.writes.length, bytes: job.writes.reduce((a, k) => a + sizes.get(k)!, 0) },
    publishMs: m((x) => x.publishMs),
    uploadMs: m((x) => x.uploadMs),
    recordMs: m((x) => x.recordMs),
    reads: { files: inputs.length, bytes: inputs.reduce((a, k) => a + sizes.get(k)!, 0) },
    coldReadMs: m((x) => x.cold.ms),
    coldFetchMs: m((x) => x.cold.fetchMs),
    warmReadMs: m((x) => x.warm.ms),
    warmFetchMs: m((x) => x.warm.fetchMs),
  };
}

/** Keys under the experiment (relative) matching a HANDOFF read prefix. */
const under = (keys: string[], prefixes: string[]) => keys.filter((k) => prefixes.some((p) => k.startsWith(p)));

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
let handoff: Record<string, unknown> | string = 'skipped: no S3 server';
try {
  const stores: Array<[string, ArtifactStore]> = [['local', await createArtifactStore({ kind: 'file', dir }, records)]];
  if (s3.available)
    stores.push(['s3', await createArtifactStore({ kind: 's3', ...s3.server.location('bench') }, records)]);
  for (const [name, store] of stores) {
    const rows: Record<string, unknown> = {};
    for (const s of SIZES) rows[s.label] = await measure(store, s.bytes, `${name}-${s.bytes}`);
    results[name] = rows;
  }

  if (s3.available) {
    // the experiment through the service, its hand-offs through the bucket under `run/`
    const workDir = join(dir, 'worker');
    const s3env = s3.server.env('run');
    const service = await startService(env, {
      workers: 1,
      apiEnv: s3env,
      workerEnv: {
        ...s3env,
        ARCAL_WORK_DIR: join(workDir, 'work'),
        ARCAL_CACHE_DIR: join(workDir, 'cache'),
        ARCAL_SHARD_EXAMPLES: String(SHARD_EXAMPLES),
      },
    });
    let id: string;
    const t0 = Date.now();
    try {
      const submitted = await service.request('POST', '/v1/experiments', HANDOFF_SPEC);
      if (submitted.status !== 202) throw new Error(`submit: ${JSON.stringify(submitted.body)}`);
      id = submitted.body.id as string;
      const events = await followEvents(service, id, 600_000);
      if (outcome(events) !== 'succeeded')
        throw new Error(`the experiment ${outcome(events)}: ${service.workers[0]!.output().slice(-3000)}`);
      // the end event can come before the evaluate job's own completion is stored (it dispatches finalize first)
      const c = new pg.Client({ connectionString: env.databaseUrl });
      await c.connect();
      try {
        for (let i = 0; i < 600; i++) {
          const open = await c.query(`select 1 from jobs where experiment_id = $1 and finished_at is null`, [id]);
          if (!open.rows.length) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await c.end();
      }
    } finally {
      await service.stop();
    }
    const runSeconds = (Date.now() - t0) / 1000;
    const runStore = await createArtifactStore({ kind: 's3', ...s3.server.location('run') }, records);
    const src = join(dir, 'run');
    const sizes = new Map<string, number>();
    for (const rec of await runStore.list(`${id}/`)) {
      const rel = rec.key.slice(id.length + 1);
      const file = join(src, rel);
      await mkdir(dirname(file), { recursive: true });
      await pipeline((await runStore.get(rec.key)).body, createWriteStream(file));
      sizes.set(rel, rec.size);
    }
    await runStore.close();
    const keys = [...sizes.keys()].sort();
    const spec = resolve(HANDOFF_SPEC);
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    const jobs = (
      await client.query<{ id: string; kind: JobKind; payload: Record<string, unknown>; s: Date; f: Date }>(
        `select id, queue || ':' || name as kind, payload, started_at as s, finished_at as f
           from jobs where experiment_id = $1 and state = 'completed' order by finished_at`,
        [id],
      )
    ).rows;
    const stamps = new Map(
      (
        await client.query<{ key: string; c: Date; u: Date }>(
          `select key, created_at as c, updated_at as u from stored_objects where key like $1`,
          [`${id}/%`],
        )
      ).rows.map((r) => [r.key.slice(id.length + 1), r]),
    );
    await client.end();

    // Per job kind, the last job of the kind to finish. Its writes: the objects first recorded during its run, and
    // those it writes anew (REWRITES). Its inputs: the objects under its read prefixes that existed when it started.
    const kinds = new Map<string, { count: number; id: string; job: Replay; inputs: string[] }>();
    let evaluateArtifacts = {};
    for (const j of jobs) {
      const paths: HandoffPaths = HANDOFF[j.kind](j.payload, spec);
      if (!paths.reads.length && !paths.writes.length) continue;
      const during = (t: Date) => t >= j.s && t <= j.f;
      const inputs = under(keys, paths.reads).filter((k) => stamps.get(k)!.c < j.s);
      const rewritten = keys.filter(
        (k) =>
          stamps.get(k)!.c < j.s &&
          under([k], paths.writes).length > 0 &&
          (REWRITES[j.kind] ?? []).some((p) => k.startsWith(p)),
      );
      const writes = [...rewritten, ...keys.filter((k) => during(stamps.get(k)!.c))];
      if (j.kind === 'evaluate:evaluate') {
        const again = keys.filter((k) => stamps.get(k)!.c < j.s && during(stamps.get(k)!.u));
        const t = keys.filter((k) => during(stamps.get(k)!.u)).map((k) => stamps.get(k)!.u.getTime());
        evaluateArtifacts = {
          rerecorded: again.length,
          recordSpanSeconds: t.length ? (Math.max(...t) - Math.min(...t)) / 1000 : 0,
          jobSeconds: (j.f.getTime() - j.s.getTime()) / 1000,
        };
      }
      const count = (kinds.get(j.kind)?.count ?? 0) + 1;
      kinds.set(j.kind, { count, id: j.id, job: { reads: paths.reads, writes }, inputs });
    }
    const bytesOf = (ks: string[]) => ks.reduce((a, k) => a + sizes.get(k)!, 0);
    const out: Record<string, unknown> = {
      spec: HANDOFF_SPEC,
      shardExamples: SHARD_EXAMPLES,
      experiment: { runSeconds, jobs: jobs.length, objects: keys.length, bytes: bytesOf(keys) },
      // the evaluate job's artifact listing (recordArtifact per file, each first publishing the job's folder):
      // objects recorded before it whose records it wrote again, and the time between its first and last record
      evaluateArtifacts,
      groups: Object.fromEntries(
        GROUPS.map(([label, prefix]) => {
          const ks = under(keys, [prefix]);
          return [label, { prefix, files: ks.length, bytes: bytesOf(ks) }];
        }),
      ),
    };
    for (const [name, store] of stores) {
      const byGroup: Record<string, unknown> = {};
      for (const [label, prefix] of GROUPS) {
        const ks = under(keys, [prefix]);
        byGroup[label] = await replay(
          store,
          records,
          src,
          `${name}/g/${label}`,
          { reads: [prefix], writes: ks },
          sizes,
          ks,
        );
      }
      const byKind: Record<string, unknown> = {};
      for (const [kind, k] of kinds)
        byKind[kind] = {
          jobsInRun: k.count,
          replayed: k.id.slice(id.length + 1),
          ...(await replay(store, records, src, `${name}/k/${kind}`, k.job, sizes, k.inputs)),
        };
      out[name] = { byGroup, byKind };
    }
    handoff = out;
  }
  for (const [, store] of stores) await store.close();
  console.log(
    JSON.stringify({
      bench: 'artifact-store',
      commit: gitCommit(),
      node: process.version,
      cpus: cpus().length,
      loadavg: loadavg().map((l) => +l.toFixed(2)),
      reps: REPS,
      handoffReps: HANDOFF_REPS,
      s3: s3.available ? 's3rver 3.7.1 on 127.0.0.1 (same disk)' : `skipped: ${s3.reason}`,
      results,
      handoff,
    }),
  );
} finally {
  await db.$disconnect();
  await env.cleanup();
  if (s3.available) await s3.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
