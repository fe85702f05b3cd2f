/**
 * The train queue's compute handlers. They load tfjs through @arcal/core and therefore run only inside
 * sandboxed processes (see sandbox/compute.ts), never on the worker's main event loop, so BullMQ's
 * lock renewal cannot stall behind a training step.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { ArcalError, type EpochRecord, type ResolvedSpec } from '@arcal/contracts';
import { jobIds } from '@arcal/db';
import type { WorkerContext } from '../context.ts';
import type { HandlerTable } from '../run-job.ts';

/** Runs of the `runs` table that are not ensemble members. */
export const REFERENCE_MEMBER = -1;
export const ENSEMBLE_MEMBER = -2;
export const memberIndex = (m: EpochRecord['member'] | number): number => (m === 'ensemble' ? ENSEMBLE_MEMBER : Number(m));

export const experimentDir = (ctx: WorkerContext, experimentId: string) => join(resolve(ctx.config.artifactDir), experimentId);

const sha256File = (file: string) =>
  new Promise<string>((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('end', () => ok(h.digest('hex'))).on('error', fail);
  });

async function* walk(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile() && !e.name.endsWith('.tmp')) yield p;
  }
}

/** Records every file under the experiment's folder as an artifact (name = relative path with / as _). */
export async function recordArtifacts(ctx: WorkerContext, experimentId: string): Promise<number> {
  const root = resolve(ctx.config.artifactDir);
  let n = 0;
  for await (const file of walk(experimentDir(ctx, experimentId))) {
    const rel = relative(root, file);
    const name = relative(experimentDir(ctx, experimentId), file).split('/').join('_');
    const st = await stat(file);
    await ctx.repos.results.recordArtifact(experimentId, {
      name,
      path: rel,
      sha256: await sha256File(file),
      size: st.size,
      contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    });
    n++;
  }
  return n;
}

/** Stores one epoch record (idempotent per run and epoch) and announces it. */
export async function recordEpoch(ctx: WorkerContext, experimentId: string, runIds: Map<number, string>, r: EpochRecord): Promise<void> {
  const member = memberIndex(r.member);
  let runId = runIds.get(member);
  if (!runId) {
    // the reference model (-1) and ensemble-level records (-2) get runs of their own
    runId = (await ctx.repos.runs.ensureRun(experimentId, member, 0)).id;
    runIds.set(member, runId);
  }
  await ctx.repos.runs.recordEpoch(runId, {
    epoch: r.epoch,
    trainLoss: r.trainLoss,
    trainAccuracy: r.trainAccuracy,
    learningRate: r.learningRate,
    valLoss: r.validation?.nll ?? null,
    valAccuracy: r.validation?.accuracy ?? null,
    valEce: r.validation?.ece ?? null,
    softLabels: r.softLabels ?? null,
    record: r,
    seconds: r.seconds,
  });
  await ctx.events.publish(experimentId, { type: 'epoch', member: r.member, epoch: r.epoch, record: r });
}

export const trainHandlers: HandlerTable = {
  /** The whole experiment inline, resumable: runExperiment continues from the checkpoints in its folder. */
  'train:experiment': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const spec = experiment.spec as unknown as ResolvedSpec;
    const core: any = await import('@arcal/core');
    if (typeof core.loadExperimentData !== 'function') {
      throw new ArcalError('BACKEND_UNAVAILABLE', '@arcal/core does not export loadExperimentData yet');
    }
    await core.ready({ ...(ctx.config.backend ? { backend: ctx.config.backend } : {}) });
    const seeds = Array.from({ length: spec.ensemble.members }, (_, m) => core.memberSeed(spec.seed, m) as number);
    const runs = await ctx.repos.runs.ensureRuns(id, seeds);
    const runIds = new Map(runs.map((r) => [r.member, r.id]));
    const say = async (level: 'info' | 'warn', message: string) => {
      const line = await ctx.repos.results.appendLog(id, level, message, job.id);
      await ctx.events.publish(id, { type: 'log', id: line.id.toString(), level, message, at: line.createdAt.toISOString() });
    };
    const dataOpts = { ...(ctx.config.dataDir ? { dataDir: ctx.config.dataDir } : {}), allowDownload: false, onLog: (l: string) => void say('info', l) };
    const data = await core.loadExperimentData(spec.dataset, spec.seed, dataOpts);
    await say('info', `data: ${data.name} (train ${data.train.n}, validation ${data.validation.n}, test ${data.test.n})`);
    // Epoch records are written in order, one at a time, before the job can complete.
    let pending: Promise<void> = Promise.resolve();
    const report = await core.runExperiment(spec, {
      outDir: experimentDir(ctx, id),
      data,
      signal,
      log: (l: string) => {
        pending = pending.then(() => say('info', l));
      },
      ...(typeof core.loadOodSet === 'function' ? { loadOod: (name: string) => core.loadOodSet(name, dataOpts) } : {}),
      onEvent: (e: any) => {
        if (e.type === 'epoch') pending = pending.then(() => recordEpoch(ctx, id, runIds, e.record));
        else if (e.type === 'stage') pending = pending.then(() => say('info', `stage ${e.stage}${e.detail ? `: ${e.detail}` : ''}`));
      },
    });
    await pending;
    await ctx.repos.results.saveReport(id, report);
    await recordArtifacts(ctx, id);
    await ctx.dispatcher.dispatch([
      { id: jobIds.finalize(id, experiment.attempt), kind: 'orchestrate:finalize', experimentId: id, payload: { experimentId: id } },
    ]);
    return { accuracy: report.final.accuracy, ece: report.final.ece };
  },
};
