/** `arcal run spec.json [--out dir]` and `arcal run --resume dir`: an experiment in-process, no services. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ArcalError, type ExperimentReport, pinSpecVersion, type ResolvedSpec } from '@arcal/contracts';
import { loadExperimentData, loadOodSet, type RunEvent, ready, runExperiment } from '@arcal/core';
import { int, type ParsedArgs, str } from '../args.ts';
import { Progress } from '../progress.ts';
import { checkSpec, loadSpecFile } from '../spec-file.ts';

export const runUsage = `arcal run <spec.json> [--out dir] [--backend name] [--threads n] [--data-dir dir] [--offline]
arcal run --resume <dir>`;

/** The spec file as given, kept in the output directory so `--resume` validates exactly what the user wrote. */
const INPUT_SPEC = 'spec.input.json';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function describeEpoch(e: Extract<RunEvent, { type: 'epoch' }>): string {
  const r = e.record;
  const who = r.member === 'ensemble' ? 'ensemble' : r.member === -1 ? 'reference' : `member ${Number(r.member) + 1}`;
  const v = r.validation;
  const table = r.softLabels ? ` p̃=[${r.softLabels.pTrue.map((p) => p.toFixed(3)).join(' ')}]` : '';
  return `epoch ${r.epoch}/${e.totalEpochs} ${who}: loss ${r.trainLoss.toFixed(4)} acc ${pct(r.trainAccuracy)}${v ? ` | val acc ${pct(v.accuracy)} nll ${v.nll.toFixed(4)} ece ${pct(v.ece)}` : ''}${table} (${r.seconds.toFixed(1)} s)`;
}

export interface InlineRunContext {
  spec: ResolvedSpec;
  outDir: string;
  backend?: string;
  threads?: number;
  dataDir?: string;
  offline?: boolean;
  quiet?: boolean;
  /** Shared vanilla reference model directory (the demo's experiments share one). */
  referenceDir?: string;
}

/** Runs one resolved spec inline with progress output; shared by `run` and `demo`. */
export async function runInline(ctx: InlineRunContext, signal?: AbortSignal): Promise<ExperimentReport> {
  const progress = new Progress();
  const log = (l: string) => progress.line(l);
  await ready({
    backend: ctx.backend,
    threads: ctx.threads,
    arch: ctx.spec.model.arch,
    log: ctx.quiet ? undefined : log,
  });
  const dataOpts = { dataDir: ctx.dataDir ?? process.env.ARCAL_DATA_DIR, allowDownload: !ctx.offline, onLog: log };
  const data = await loadExperimentData(ctx.spec.dataset, ctx.spec.seed, dataOpts);
  log(
    `data: ${data.name} from ${data.source} (train ${data.train.n}, validation ${data.validation.n}, test ${data.test.n})`,
  );
  return runExperiment(ctx.spec, {
    outDir: ctx.outDir,
    referenceDir: ctx.referenceDir,
    data,
    signal,
    log,
    loadOod: (name) => loadOodSet(name as never, dataOpts),
    onEvent: (e) => {
      if (e.type === 'epoch') log(describeEpoch(e));
      else if (e.type === 'stage') log(`» ${e.stage}${e.detail ? `: ${e.detail}` : ''}`);
      else if (e.type === 'batch')
        progress.update(
          `  ${e.member === 'reference' ? 'reference' : `member ${Number(e.member) + 1}`} batches`,
          e.done,
          e.total,
        );
      else if (e.type === 'attack') progress.update(`  attack ${e.what}`, e.done, e.total);
    },
  });
}

/**
 * The spec of a run to resume: the file as the user wrote it (spec.json holds the resolved one, with every
 * default filled in), pinned to the version spec.json was resolved with (none there: 1), so a default changed
 * since the run started does not change what it computes.
 */
export function resumeSpec(resumeDir: string): ResolvedSpec {
  const f = join(resumeDir, INPUT_SPEC);
  if (!existsSync(f)) throw new ArcalError('INVALID_INPUT', `${resumeDir} holds no run to resume (no ${INPUT_SPEC})`);
  const resolvedFile = join(resumeDir, 'spec.json');
  const stored = existsSync(resolvedFile)
    ? (JSON.parse(readFileSync(resolvedFile, 'utf8')) as { version?: number })
    : undefined;
  return checkSpec(pinSpecVersion(JSON.parse(readFileSync(f, 'utf8')), stored), f);
}

export async function runCommand(a: ParsedArgs, signal: AbortSignal): Promise<number> {
  const resumeDir = str(a, 'resume');
  let spec: ResolvedSpec;
  let outDir: string;
  if (resumeDir) {
    spec = resumeSpec(resumeDir);
    outDir = resolve(resumeDir);
  } else {
    const file = a.positionals[0];
    if (!file) throw new ArcalError('INVALID_INPUT', `missing spec file\nusage: ${runUsage}`);
    spec = loadSpecFile(file);
    outDir = resolve(str(a, 'out') ?? join('runs', spec.name));
    if (existsSync(join(outDir, INPUT_SPEC)) || existsSync(join(outDir, 'spec.json'))) {
      throw new ArcalError(
        'CONFLICT',
        `${outDir} already holds a run: continue it with \`arcal run --resume ${outDir}\` or choose another --out`,
      );
    }
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, INPUT_SPEC), readFileSync(file));
  }
  const report = await runInline(
    {
      spec,
      outDir,
      backend: str(a, 'backend'),
      threads: int(a, 'threads'),
      dataDir: str(a, 'data-dir'),
      offline: a.flags.offline === true,
    },
    signal,
  );
  printSummary([{ name: spec.name, report }]);
  console.log(`report: ${join(outDir, 'report.json')}`);
  return 0;
}

/** The comparison table printed by `run` and `demo`. */
export function printSummary(rows: Array<{ name: string; report: ExperimentReport }>): void {
  const head = ['experiment', 'method', 'M', 'accuracy', 'NLL', 'ECE', 'Brier', 'minutes'];
  const body = rows.map(({ name, report }) => {
    const s = report.spec as ResolvedSpec;
    return [
      name,
      s.method.kind + (s.ensemble.members > 1 ? ` (${s.ensemble.mode})` : ''),
      String(s.ensemble.members),
      pct(report.final.accuracy),
      report.final.nll.toFixed(4),
      pct(report.final.ece),
      report.final.brier.toFixed(4),
      (report.timings.totalSeconds / 60).toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(fmt(head));
  console.log(`|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of body) console.log(fmt(r));
}
