/**
 * Hand-offs between the jobs of an experiment's graph through the artifact store, so that workers on different
 * hosts need no shared folder. Around every job (graph.ts's HANDOFF table says which paths each kind reads and
 * writes):
 *
 * 1. the store's recorded objects under the kind's reads are copied into a folder of the job's own
 *    (`ARCAL_WORK_DIR/<job>/<experimentId>/…`) through the host's read cache, which is keyed by content: a retry
 *    on the same host, or another job reading the same input, downloads nothing again;
 * 2. the handler runs on that folder exactly as it runs on the shared one (its `artifactDir` is the job's folder);
 * 3. before the job tells anyone that its outputs exist (dispatching the next job, counting itself done in a
 *    fan-in, recording artifacts or an epoch, completing), every file under the kind's writes that it created or
 *    changed is uploaded under `<experimentId>/<path>` and only then recorded. Readers read recorded objects
 *    only. Publishing at each epoch's record puts the checkpoint of that epoch in the store, so a job taken over
 *    by another host resumes from it instead of from the start.
 *
 * A late writer (an attempt whose lock expired and whose job another worker took over) must not overwrite the
 * newer attempt's results: every upload and record is fenced with the job row's start (attempt number and start
 * time, which each start of the job sets anew). The fence is checked before each upload, and the record is
 * written in one statement with the check, so an older start never records anything once a newer one has begun.
 *
 * With a local-folder store the folder is the store: jobs use it directly and nothing is copied.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ResolvedSpec } from '@arcal/contracts';
import type { JobFence, ObjectsRepository } from '@arcal/db';
import { type ArtifactStore, createArtifactStore, type ObjectRecord, ReadCache } from '@arcal/storage';
import type { WorkerContext } from './context.ts';
import { sha256File, walkFiles } from './files.ts';
import { HANDOFF, type HandoffPaths } from './graph.ts';
import type { Handler, HandlerArgs } from './run-job.ts';
import { StaleWriterError } from './stale-writer.ts';

export { StaleWriterError };

/** What a host needs to hand files over: the store (objects recorded in `objects`), its read cache, its job folders. */
export interface Handoff {
  store: ArtifactStore;
  cache: ReadCache;
  objects: ObjectsRepository;
  workDir: string;
}

/** The store, recording in `objects`; this module uploads (`uploadFile`) and records each upload itself, fenced. */
export async function createHandoff(
  config: NonNullable<WorkerContext['config']['artifact']>,
  cacheConfig: NonNullable<WorkerContext['config']['cache']>,
  objects: ObjectsRepository,
  workDir: string,
): Promise<Handoff> {
  const store = await createArtifactStore(config, objects);
  await removeOrphans(workDir);
  return { store, cache: new ReadCache(store, cacheConfig), objects, workDir };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: a process of another user has that pid
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes job folders left by processes that died (kill -9, OOM) mid-job: their names start with the pid of the
 * process that made them. A pid reused since only keeps a folder longer.
 */
export async function removeOrphans(workDir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(workDir).catch(() => [] as string[])) {
    const pid = Number(name.split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || alive(pid)) continue;
    await rm(join(workDir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

const perContext = new WeakMap<WorkerContext, Promise<Handoff | null>>();

/** The process's hand-off for `ctx`, or null when the store is a local folder (the folder is then shared). */
export function handoffOf(ctx: WorkerContext): Promise<Handoff | null> {
  let h = perContext.get(ctx);
  if (!h) {
    const { artifact, cache, workDir } = ctx.config;
    h =
      !artifact || artifact.kind === 'file' || !cache || !workDir
        ? Promise.resolve(null)
        : createHandoff(artifact, cache, ctx.repos.objects, workDir);
    perContext.set(ctx, h);
  }
  return h;
}

const underAny = (rel: string, prefixes: string[]) => prefixes.some((p) => rel.startsWith(p));

async function stampOf(file: string): Promise<string> {
  const st = await stat(file, { bigint: true });
  return `${st.size}:${st.mtimeNs}:${st.ino}`;
}

/** One job's folder: what was copied in (key → sha256) and what was published since. */
export class JobFolder {
  /** sha256 of each key as the store holds it, as far as this job knows (copied in or published by it). */
  readonly known = new Map<string, string>();
  /** Keys this job uploaded and recorded. */
  readonly published: string[] = [];
  /**
   * Size, modification time (ns) and inode of each file when it was last hashed: a publish hashes only files
   * whose stamp changed (a job that records 30 artifacts publishes before each record; without this every
   * publish re-hashed the whole folder).
   */
  private readonly stamps = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly h: Handoff,
    /** The job's artifact root: the experiment's files are under `<root>/<experimentId>/`. */
    readonly root: string,
    readonly experimentId: string,
    readonly paths: HandoffPaths,
    readonly fence: JobFence | null,
  ) {}

  private fileOf(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  /** Copies every recorded object under the reads into the folder (from the host's cache, downloading what is not there). */
  async materialise(): Promise<number> {
    let n = 0;
    for (const prefix of this.paths.reads) {
      for (const rec of await this.h.store.list(`${this.experimentId}/${prefix}`)) {
        if (this.known.has(rec.key)) continue;
        const got = await this.h.cache.fetch(rec.key);
        const dest = this.fileOf(rec.key);
        await mkdir(dirname(dest), { recursive: true });
        // a copy (a clone where the filesystem can), never a link: a job may rewrite its inputs in place
        await copyFile(got.path, dest, constants.COPYFILE_FICLONE);
        this.known.set(rec.key, got.record.sha256);
        this.stamps.set(rec.key, await stampOf(dest));
        n++;
      }
    }
    return n;
  }

  /** Uploads, then records, each file under the writes that is new or changed; one publish at a time. */
  publish(): Promise<void> {
    const run = this.chain.then(() => this.publishNow());
    this.chain = run.catch(() => {});
    return run;
  }

  private async publishNow(): Promise<void> {
    const dir = join(this.root, this.experimentId);
    for await (const file of walkFiles(dir)) {
      const rel = relative(dir, file).split(sep).join('/');
      if (!underAny(rel, this.paths.writes)) continue;
      const key = `${this.experimentId}/${rel}`;
      const stamp = await stampOf(file);
      if (this.stamps.get(key) === stamp) continue;
      const sha = await sha256File(file);
      if (this.known.get(key) === sha) {
        this.stamps.set(key, stamp);
        continue;
      }
      await this.checkFence(key);
      const contentType = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
      // Under a stored name of its own (the record points there once written): if this attempt dies before the
      // record, or its record is refused as a late writer's, the bytes recorded now stay as they are.
      const rec: ObjectRecord = await this.h.store.uploadFile(key, file, { contentType });
      const r = { key, sha256: rec.sha256, size: rec.size, contentType, location: rec.location };
      if (this.fence) {
        if (!(await this.h.objects.upsertFenced(r, this.fence))) throw new StaleWriterError(this.fence.jobId, key);
      } else await this.h.objects.upsert(r);
      this.known.set(key, rec.sha256);
      this.stamps.set(key, stamp);
      this.published.push(key);
    }
  }

  private async checkFence(key: string): Promise<void> {
    if (this.fence && !(await this.h.objects.fenceHolds(this.fence))) throw new StaleWriterError(this.fence.jobId, key);
  }
}

/**
 * `ctx` for a job working in `folder`: its artifact root is the job's folder, and each call that tells others
 * the job's outputs exist first publishes them.
 */
export function contextFor(ctx: WorkerContext, folder: JobFolder): WorkerContext {
  const first =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>, self: object) =>
    async (...a: A): Promise<R> => {
      await folder.publish();
      return f.apply(self, a);
    };
  const dispatcher = Object.create(ctx.dispatcher) as WorkerContext['dispatcher'];
  dispatcher.dispatch = first(ctx.dispatcher.dispatch, ctx.dispatcher);
  const jobs = Object.create(ctx.repos.jobs) as WorkerContext['repos']['jobs'];
  jobs.markCompleted = first(ctx.repos.jobs.markCompleted, ctx.repos.jobs);
  const results = Object.create(ctx.repos.results) as WorkerContext['repos']['results'];
  results.recordArtifact = first(ctx.repos.results.recordArtifact, ctx.repos.results);
  // An epoch's record is stored after its checkpoint: a job taken over on another host resumes from there.
  const runs = Object.create(ctx.repos.runs) as WorkerContext['repos']['runs'];
  runs.recordEpoch = first(ctx.repos.runs.recordEpoch, ctx.repos.runs);
  return {
    ...ctx,
    config: { ...ctx.config, artifactDir: folder.root },
    dispatcher,
    repos: { ...ctx.repos, jobs, results, runs },
  };
}

/** Runs `handler` in a folder of its own, with its inputs copied in from the store and its outputs published. */
export async function runWithHandoff(
  h: Handoff,
  kind: keyof typeof HANDOFF,
  handler: Handler,
  args: HandlerArgs<never>,
): Promise<unknown> {
  const { ctx, job, experiment } = args;
  const paths = HANDOFF[kind](args.payload as Record<string, unknown>, experiment.spec as unknown as ResolvedSpec);
  if (!paths.reads.length && !paths.writes.length) return handler(args);
  // read right after runJob marked this start: the start a later one will supersede
  const fence = job.id ? await h.objects.fenceOf(job.id) : null;
  const name = `${process.pid}.${(job.id ?? 'job').replace(/[^A-Za-z0-9_-]/g, '_')}.${randomBytes(4).toString('hex')}`;
  const folder = new JobFolder(h, join(h.workDir, name), experiment.id, paths, fence);
  try {
    const copied = await folder.materialise();
    if (copied) ctx.log('info', 'inputs copied from the artifact store', { job: job.id, files: copied });
    const result = await handler({ ...args, ctx: contextFor(ctx, folder) });
    await folder.publish();
    return result;
  } finally {
    await rm(folder.root, { recursive: true, force: true });
  }
}

/** `handler` with its kind's hand-offs through the store, where the store is not a shared local folder. */
export function withHandoff(kind: keyof typeof HANDOFF, handler: Handler): Handler {
  return async (args) => {
    const h = await handoffOf(args.ctx);
    return h ? runWithHandoff(h, kind, handler, args as HandlerArgs<never>) : handler(args);
  };
}
