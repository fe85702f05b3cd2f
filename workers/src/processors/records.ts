/**
 * Postgres records that compute jobs write: epoch metrics (idempotent per run and epoch, announced on the
 * event stream) and the artifact index of an experiment's folder. No tfjs here.
 */
import { stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { EpochRecord } from '@arcal/contracts';
import { epochRecordOrder } from '@arcal/core/plan';
import type { WorkerContext } from '../context.ts';
import { sha256File, walkFiles } from '../files.ts';

/** Runs of the `runs` table that are not ensemble members. */
export const REFERENCE_MEMBER = -1;
export const ENSEMBLE_MEMBER = -2;
export const memberIndex = (m: EpochRecord['member'] | number): number =>
  m === 'ensemble' ? ENSEMBLE_MEMBER : Number(m);

export const experimentDir = (ctx: WorkerContext, experimentId: string) =>
  join(resolve(ctx.config.artifactDir), experimentId);

/** Records every file under the experiment's folder as an artifact (name = relative path with / as _). */
export async function recordArtifacts(ctx: WorkerContext, experimentId: string): Promise<number> {
  const root = resolve(ctx.config.artifactDir);
  let n = 0;
  for await (const file of walkFiles(experimentDir(ctx, experimentId))) {
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
export async function recordEpoch(
  ctx: WorkerContext,
  experimentId: string,
  runIds: Map<number, string>,
  r: EpochRecord,
): Promise<void> {
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

/** Stored epoch records (not the reference model's) in the plan's order, the one runExperiment emits them in. */
export function inlineOrder(
  rows: Array<{ member: number; epoch: number; record: unknown }>,
  joint: boolean,
): EpochRecord[] {
  const order = epochRecordOrder({ ensemble: { members: 0, mode: joint ? 'joint' : 'independent' } });
  const key = (r: { member: number; epoch: number }) => ({
    member: r.member === ENSEMBLE_MEMBER ? ('ensemble' as const) : r.member,
    epoch: r.epoch,
  });
  return rows
    .filter((r) => r.member >= 0 || r.member === ENSEMBLE_MEMBER)
    .sort((a, b) => order(key(a), key(b)))
    .map((r) => r.record as EpochRecord);
}
