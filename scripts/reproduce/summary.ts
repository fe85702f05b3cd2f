/**
 * Per-experiment summaries of a reproduction, published under docs/data/<preset>/<family>/<slug>.json: what
 * the tables, figures and verdicts of RESULTS.md are computed from, so every number there can be re-derived
 * from these files alone, and a later run (a fresh clone included) resumes from them instead of training again.
 * A summary is the experiment's report without its bulky or machine-local parts, plus where it sits in the plan.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ExperimentReport, ReportExtras } from '@arcal/contracts';
import type { Family, PlannedExperiment } from './plan.ts';

export const SUMMARY_FORMAT = 'arcal-reproduce-summary/1';

const REPORT_FIELDS = [
  'arcal',
  'backend',
  'threads',
  'dataset',
  'epochs',
  'final',
  'train',
  'members',
  'bySubset',
  'selection',
  'variance',
  'notes',
  'timings',
] as const;

export interface ExperimentSummary extends Pick<ExperimentReport, (typeof REPORT_FIELDS)[number]> {
  format: typeof SUMMARY_FORMAT;
  preset: string;
  family: Family;
  /** `<family>/<slug>`: the experiment's place in the plan and the file's path under the data folder. */
  dir: string;
  seed: number;
  /** The study values that vary (ε, R, seed). */
  config: Record<string, unknown>;
  method: string;
  /** Where the experiment ran (CPU, cores, OS, Node), so the published numbers say what measured them. */
  machine?: { cpu: string; cores: number; memoryGb: number; os: string; node: string };
  /** The spec as planned (before defaults); a summary whose spec differs from the plan's is stale. */
  spec: Record<string, unknown>;
  /**
   * The spec as the run resolved it (defaults filled in): when a default changes, the same planned spec means a
   * different experiment, and its summary is stale too.
   */
  resolvedSpec: unknown;
  /** The report's shift section, typed for the tables. */
  shift?: ReportExtras['shift'];
  ood?: Record<string, unknown>;
}

/** Keys sorted at every depth, so equal specs serialize equally whatever order they were written in. */
export function canonicalJson(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.keys(x as Record<string, unknown>)
              .sort()
              .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
          )
        : x;
  return JSON.stringify(sort(v));
}

export function summarize(
  preset: string,
  e: PlannedExperiment,
  r: ExperimentReport,
  machine?: ExperimentSummary['machine'],
): ExperimentSummary {
  const keep: Record<string, unknown> = {};
  for (const k of [...REPORT_FIELDS, 'shift', 'ood']) if (r[k] !== undefined) keep[k] = r[k];
  return {
    format: SUMMARY_FORMAT,
    preset,
    family: e.family,
    dir: e.dir,
    seed: e.seed,
    config: e.config,
    method: (e.spec.method as { kind: string }).kind,
    ...(machine ? { machine } : {}),
    spec: e.spec,
    resolvedSpec: r.spec,
    ...(keep as Pick<ExperimentSummary, (typeof REPORT_FIELDS)[number] | 'shift' | 'ood'>),
  };
}

export const summaryPath = (dataDir: string, dir: string): string => join(dataDir, `${dir}.json`);

/**
 * The summary of a planned experiment, or undefined when there is none or it was made from another spec (the
 * planned one, or, when `resolved` is given, the spec with today's defaults filled in).
 */
export async function readSummary(
  dataDir: string,
  e: PlannedExperiment,
  resolved?: unknown,
): Promise<ExperimentSummary | undefined> {
  const file = summaryPath(dataDir, e.dir);
  if (!existsSync(file)) return undefined;
  const s = JSON.parse(await readFile(file, 'utf8')) as ExperimentSummary;
  if (s.format !== SUMMARY_FORMAT || canonicalJson(s.spec) !== canonicalJson(e.spec)) return undefined;
  if (resolved !== undefined && canonicalJson(s.resolvedSpec) !== canonicalJson(resolved)) return undefined;
  return s;
}

/** Written through a temporary file and a rename, so an interrupted run never leaves half a summary. */
export async function writeSummary(dataDir: string, s: ExperimentSummary): Promise<void> {
  const file = summaryPath(dataDir, s.dir);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(s, null, 1)}\n`);
  await rename(tmp, file);
}
