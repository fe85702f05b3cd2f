/**
 * `arcal study file.json [--out dir]`: every experiment of a study (a base spec and a grid of values), run
 * inline one after the other. Resumable: a finished experiment (report.json present) is read back, an
 * interrupted one resumes from its checkpoints. After each experiment `study.json` and `study.md` are rewritten
 * with mean ± std over seeds per configuration and, when the study asks for it, the selected configuration.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ArcalError,
  type ExperimentReport,
  isArcalError,
  type ResolvedSpec,
  type StudyDocument,
  studyProblems,
} from '@arcal/contracts';
import { aggregateStudy, expandStudy, type StudyExperiment, selectBest, studyMarkdown } from '@arcal/core';
import { int, type ParsedArgs, str } from '../args.ts';
import { checkSpec } from '../spec-file.ts';
import { runInline } from './run.ts';

export const studyUsage =
  'arcal study <study.json> [--out dir] [--backend name] [--threads n] [--data-dir dir] [--offline]';

/** Reads and checks a study file; every experiment spec is validated before anything runs. */
export function loadStudy(file: string): {
  doc: StudyDocument;
  experiments: Array<StudyExperiment & { resolved: ResolvedSpec }>;
} {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArcalError(
      code === 'ENOENT' ? 'INVALID_INPUT' : 'INVALID_SPEC',
      `${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  const problems = studyProblems(raw);
  if (problems.length)
    throw new ArcalError('INVALID_SPEC', `${file}: ${problems.length} problem(s) in the study`, problems);
  const doc = raw as StudyDocument;
  const details: Array<{ path: string; message: string }> = [];
  const experiments: Array<StudyExperiment & { resolved: ResolvedSpec }> = [];
  for (const e of expandStudy(doc)) {
    try {
      experiments.push({ ...e, resolved: checkSpec(e.spec, e.slug) });
    } catch (err) {
      if (!isArcalError(err)) throw err;
      for (const d of err.details) details.push({ path: `${e.slug}: ${d.path}`, message: d.message });
    }
  }
  if (details.length)
    throw new ArcalError('INVALID_SPEC', `${file}: ${details.length} problem(s) in the expanded experiments`, details);
  return { doc, experiments };
}

export interface StudyRunContext {
  outDir: string;
  backend?: string;
  threads?: number;
  dataDir?: string;
  offline?: boolean;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** The study's summary files from whatever experiments have finished so far. */
export async function writeStudySummary(
  outDir: string,
  doc: StudyDocument,
  experiments: StudyExperiment[],
  finished: Map<string, ExperimentReport>,
): Promise<void> {
  const items = experiments
    .filter((e) => finished.has(e.name))
    .map((e) => ({ experiment: e, report: finished.get(e.name)! }));
  const configurations = aggregateStudy(items);
  const selection = doc.select
    ? selectBest(configurations, { metric: doc.select.metric ?? 'validation.ece', by: doc.select.by })
    : undefined;
  const summary = {
    name: doc.name,
    study: doc,
    experiments: experiments.map((e) => ({
      name: e.name,
      dir: e.slug,
      seed: e.seed,
      config: e.config,
      finished: finished.has(e.name),
    })),
    configurations,
    ...(selection ? { selection } : {}),
  };
  await writeAtomic(join(outDir, 'study.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const done = `${items.length} of ${experiments.length} experiments finished.\n\n`;
  await writeAtomic(
    join(outDir, 'study.md'),
    `${studyMarkdown(doc.name, configurations, selection).replace('\n\n', `\n\n${done}`)}`,
  );
}

const minutes = (s: number) => (s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);

/** Runs (or resumes) every experiment of a study and writes its summary; returns the reports by experiment name. */
export async function runStudy(
  doc: StudyDocument,
  experiments: Array<StudyExperiment & { resolved: ResolvedSpec }>,
  ctx: StudyRunContext,
  signal?: AbortSignal,
): Promise<Map<string, ExperimentReport>> {
  await mkdir(ctx.outDir, { recursive: true });
  const finished = new Map<string, ExperimentReport>();
  for (const e of experiments) {
    const dir = join(ctx.outDir, e.slug);
    if (existsSync(join(dir, 'report.json')))
      finished.set(e.name, JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')));
    else if (existsSync(join(dir, 'spec.json'))) {
      const onDisk = JSON.parse(await readFile(join(dir, 'spec.json'), 'utf8'));
      if (JSON.stringify(onDisk) !== JSON.stringify(e.resolved)) {
        throw new ArcalError('CONFLICT', `${dir} holds a run of a different spec; remove it or choose another --out`);
      }
    }
  }
  const todo = experiments.filter((e) => !finished.has(e.name));
  console.log(
    `study ${doc.name}: ${experiments.length} experiments, ${finished.size} finished earlier, ${todo.length} to run → ${ctx.outDir}`,
  );
  const t0 = performance.now();
  let ran = 0;
  for (const e of todo) {
    const eta = ran ? ` (ETA ${minutes((((performance.now() - t0) / 1000) * (todo.length - ran)) / ran)})` : '';
    console.log(`\n=== [${finished.size + 1}/${experiments.length}] ${e.name}${eta} ===`);
    const report = await runInline(
      {
        spec: e.resolved,
        outDir: join(ctx.outDir, e.slug),
        backend: ctx.backend,
        threads: ctx.threads,
        dataDir: ctx.dataDir,
        offline: ctx.offline,
      },
      signal,
    );
    finished.set(e.name, report);
    ran++;
    await writeStudySummary(ctx.outDir, doc, experiments, finished);
  }
  await writeStudySummary(ctx.outDir, doc, experiments, finished);
  return finished;
}

export async function studyCommand(a: ParsedArgs, signal: AbortSignal): Promise<number> {
  const file = a.positionals[0];
  if (!file) throw new ArcalError('INVALID_INPUT', `missing study file\nusage: ${studyUsage}`);
  const { doc, experiments } = loadStudy(file);
  const outDir = resolve(str(a, 'out') ?? join('runs', doc.name));
  await runStudy(
    doc,
    experiments,
    {
      outDir,
      backend: str(a, 'backend'),
      threads: int(a, 'threads'),
      dataDir: str(a, 'data-dir'),
      offline: a.flags.offline === true,
    },
    signal,
  );
  console.log(`\n${readFileSync(join(outDir, 'study.md'), 'utf8')}`);
  console.log(`summary: ${join(outDir, 'study.json')}`);
  return 0;
}
