/**
 * What every compute handler starts from: @arcal/core on the configured backend, the experiment's spec,
 * its data (kept per process: a sandboxed process serves many jobs of one experiment), its artifact
 * layout, and a logger that writes job logs to Postgres and to the event stream. Sandboxed processes only.
 */
import { readFile } from 'node:fs/promises';
import type { EpochRecord, ResolvedSpec } from '@arcal/contracts';
import { decodeRobustness, memberSeeds, type RobustnessFile, referenceTraining } from '@arcal/core/plan';
import { type Layout, layoutOf } from '../graph.ts';
import { faultHold, type HandlerArgs } from '../run-job.ts';

export { writeAtomic } from '../files.ts';

import { recordEpoch } from './records.ts';

export type Core = typeof import('@arcal/core');
type Data = Awaited<ReturnType<Core['loadExperimentData']>>;

let corePromise: Promise<Core> | undefined;
const dataCache = new Map<string, Promise<Data>>();

export interface ComputeJob {
  core: Core;
  spec: ResolvedSpec;
  data: Data;
  layout: Layout;
  id: string;
  say: (level: 'info' | 'warn', message: string) => Promise<void>;
  dataOptions: { dataDir?: string; allowDownload: false };
  /** Stores an epoch record once per (run, epoch) for this job (live from onEpoch, or afterwards on a resumed job). */
  record: (r: EpochRecord) => Promise<void>;
  /** Waits for the records queued by `record` from synchronous callbacks. */
  flush: () => Promise<void>;
  queue: (r: EpochRecord) => void;
}

export async function computeJob(args: Pick<HandlerArgs<never>, 'ctx' | 'experiment' | 'job'>): Promise<ComputeJob> {
  const { ctx, experiment, job } = args;
  const id = experiment.id;
  const spec = experiment.spec as unknown as ResolvedSpec;
  corePromise ??= import('@arcal/core').then(async (core) => {
    await core.ready({ ...(ctx.config.backend ? { backend: ctx.config.backend } : {}) });
    return core;
  });
  const core = await corePromise;
  const dataOptions = { ...(ctx.config.dataDir ? { dataDir: ctx.config.dataDir } : {}), allowDownload: false as const };
  const key = JSON.stringify([spec.dataset, spec.seed]);
  if (!dataCache.has(key)) {
    dataCache.clear(); // one experiment's data at a time
    dataCache.set(key, core.loadExperimentData(spec.dataset, spec.seed, dataOptions));
  }
  let data: Data;
  try {
    data = await dataCache.get(key)!;
  } catch (err) {
    dataCache.delete(key);
    throw err;
  }
  const say = async (level: 'info' | 'warn', message: string) => {
    const line = await ctx.repos.results.appendLog(id, level, message, job.id);
    await ctx.events.publish(id, {
      type: 'log',
      id: line.id.toString(),
      level,
      message,
      at: line.createdAt.toISOString(),
    });
  };
  const runIds = new Map((await ctx.repos.runs.ensureRuns(id, memberSeeds(spec))).map((r) => [r.member, r.id]));
  const seen = new Set<string>();
  const record = async (r: EpochRecord) => {
    const k = `${r.member}/${r.epoch}`;
    if (seen.has(k)) return;
    seen.add(k);
    await recordEpoch(ctx, id, runIds, r);
  };
  let pending: Promise<void> = Promise.resolve();
  return {
    core,
    spec,
    data,
    layout: layoutOf(ctx.config.artifactDir, id),
    id,
    say,
    dataOptions,
    record,
    queue: (r) => {
      faultHold(job, r);
      pending = pending.then(() => record(r));
    },
    flush: () => pending,
  };
}

type TrainMemberOptions = Parameters<Core['trainMember']>[0];

/** core.trainMember for member m of this experiment (its seed and checkpoint directory) with the job's options. */
export function trainMemberOf(
  c: ComputeJob,
  m: number,
  o: Omit<TrainMemberOptions, 'spec' | 'data' | 'member' | 'seed' | 'checkpointDir'>,
) {
  return c.core.trainMember({
    spec: c.spec,
    data: c.data,
    member: m,
    seed: memberSeeds(c.spec)[m]!,
    checkpointDir: c.layout.member(m),
    ...o,
  });
}

/** The trained reference model (its checkpoint must hold every epoch). Caller disposes. */
export async function referenceModel(c: ComputeJob, signal?: AbortSignal) {
  const s = await c.core.trainMember({
    spec: c.spec,
    data: c.data,
    ...referenceTraining(c.spec),
    checkpointDir: c.layout.referenceModel,
    signal,
    untilEpoch: 0,
  });
  if (s.epoch < c.spec.training.epochs) {
    s.dispose();
    throw new Error(`the reference model is trained for ${s.epoch} of ${c.spec.training.epochs} epochs`);
  }
  return s;
}

/** Robustness radii cached by robustnessOf / the merge step (null = never fooled = +∞). */
export async function readNorms(file: string): Promise<Float32Array> {
  return decodeRobustness(JSON.parse(await readFile(file, 'utf8')) as RobustnessFile);
}
