/**
 * The inline run of a spec in the test process, and the reduction of a stored report and metrics to what
 * both paths must agree on (no timings, paths or backend names).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExperimentReport, type ResolvedSpec, validateSpec } from '@arcal/contracts';
import { COMPUTE_ENV, epochKey } from './harness.ts';

export function resolve(raw: unknown): ResolvedSpec {
  const v = validateSpec(raw);
  if (!v.ok) throw new Error(`bad test spec: ${JSON.stringify(v.problems)}`);
  return v.spec;
}

/** runExperiment in this process with the workers' backend settings. */
export async function inlineReport(spec: ResolvedSpec): Promise<ExperimentReport> {
  Object.assign(process.env, COMPUTE_ENV);
  const core = await import('@arcal/core');
  await core.ready({ backend: COMPUTE_ENV.ARCAL_BACKEND });
  const data = await core.loadExperimentData(spec.dataset, spec.seed, { allowDownload: false });
  return core.runExperiment(spec, { outDir: mkdtempSync(join(tmpdir(), 'arcal-inline-')), data });
}

/** What must be equal between two reports of one spec. */
export function comparable(r: ExperimentReport) {
  return {
    final: r.final,
    members: r.members,
    bySubset: r.bySubset,
    variance: (r as { variance?: unknown }).variance ?? null,
    epochs: Object.fromEntries(r.epochs.map((e) => [epochKey(e.member, e.epoch), { ...e, seconds: 0 }])),
  };
}

/** Inline epoch records in the shape of GET /metrics rows. */
export function asMetricRows(r: ExperimentReport) {
  return r.epochs
    .map((e) => ({
      member: e.member === 'ensemble' ? -2 : e.member,
      epoch: e.epoch,
      trainLoss: e.trainLoss,
      trainAccuracy: e.trainAccuracy,
      learningRate: e.learningRate,
      valLoss: e.validation?.nll ?? null,
      valAccuracy: e.validation?.accuracy ?? null,
      valEce: e.validation?.ece ?? null,
      softLabels: e.softLabels ?? null,
    }))
    .sort((a, b) => a.member - b.member || a.epoch - b.epoch);
}

export function storedMetricRows(epochs: Array<Record<string, unknown>>) {
  return epochs
    .map(({ seconds: _s, ...rest }) => rest)
    .sort((a: any, b: any) => a.member - b.member || a.epoch - b.epoch);
}
