/**
 * Studies in the service: a study document (base spec + grid + selection) is checked as a whole — the document,
 * then every experiment it expands to, with the same rules as POST /v1/experiments — and admitted when the sum
 * of its experiments' estimates fits the budget. It is stored as one study row plus one ordinary experiment per
 * grid point (with the same start job as a single submission), all in one transaction, then enqueued. Its
 * status follows from its experiments'; its report is the same aggregation that `arcal study` writes inline
 * (mean ± std over seeds per configuration, and the selection), over the experiments that have succeeded so
 * far (partial while others are unfinished). Cancelling a study cancels each unfinished experiment as a single
 * cancel would; deleting one removes the study and its experiments together once all have finished.
 */
import { createHash } from 'node:crypto';
import {
  ArcalError,
  aggregateStudy,
  type ConfigurationSummary,
  type ExperimentReport,
  expandStudy,
  getPath,
  isArcalError,
  type ResolvedSpec,
  type Selection,
  type SpecProblem,
  type StudyDocument,
  type StudyExperiment,
  selectBest,
  studyMarkdown,
  studyProblems,
} from '@arcal/contracts';
import {
  type ExperimentRow,
  type ExperimentStatus,
  FINISHED,
  type JobDispatcher,
  type Repositories,
  type StudyRow,
} from '@arcal/db';
import type { ApiConfig } from '../config.ts';
import type { Estimate } from '../estimate.ts';
import { type ExperimentsService, MemoryError, stable } from './experiments.service.ts';

/** Largest grid accepted in one study (experiments are rows and queued jobs; split bigger sweeps). */
export const MAX_STUDY_EXPERIMENTS = 256;

/** Experiments a study cancel stops at once. */
const CANCEL_BATCH = 8;

/** A grid point as stored with the study (the spec itself is the experiment's row). */
export type StudyPoint = Omit<StudyExperiment, 'spec'>;

/** The grid as stored in `studies.points`. */
export interface StoredGrid {
  /** The vary paths in document order (JSONB does not keep the order of object keys). */
  varied: string[];
  experiments: StudyPoint[];
}

/**
 * The stored grid with each point's varied values back in document order (rebuilt from its configKey, which
 * is a string and so kept as written).
 */
export function gridOf(study: StudyRow): StoredGrid {
  const g = study.points as unknown as StoredGrid;
  return {
    varied: g.varied,
    experiments: g.experiments.map((p) => ({ ...p, config: Object.fromEntries(JSON.parse(p.configKey)) })),
  };
}

/** The study document as submitted, its `vary` paths back in document order. */
export function documentOf(study: StudyRow): StudyDocument {
  const doc = study.document as StudyDocument;
  if (!doc.vary) return doc;
  const vary = doc.vary;
  return { ...doc, vary: Object.fromEntries(gridOf(study).varied.map((k) => [k, vary[k]!])) };
}

export interface StudyEstimate {
  /** Sum of the experiments' estimated CPU-seconds. */
  seconds: number;
  budgetSeconds: number;
  experiments: number;
  /** Estimated CPU-seconds of each experiment, in grid order. */
  perExperiment: number[];
}

export type StudyStatus = ExperimentStatus;
export type StatusCounts = Record<ExperimentStatus, number> & { total: number };

const STATUSES: ExperimentStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled'];

/** Counts per status (every status present, zero when none) and the total. */
export function countStatuses(statuses: Partial<Record<ExperimentStatus, number>>): StatusCounts {
  const out = { total: 0 } as StatusCounts;
  for (const s of STATUSES) {
    out[s] = statuses[s] ?? 0;
    out.total += out[s];
  }
  return out;
}

/**
 * A study's status from its experiments': `queued` while none has started, `running` while some are unfinished
 * and some started or finished, and once all are finished `failed` if any failed, else `cancelled` if any was
 * cancelled, else `succeeded`. A study whose experiments were all deleted reads as `cancelled`.
 */
export function studyStatus(c: StatusCounts): StudyStatus {
  const unfinished = c.queued + c.running + c.cancelling;
  if (unfinished > 0) return c.queued === c.total ? 'queued' : 'running';
  if (c.failed > 0) return 'failed';
  if (c.cancelled > 0 || c.total === 0) return 'cancelled';
  return 'succeeded';
}

export interface StudyReport {
  /**
   * Some of the study's experiments are still queued or running: the means, standard deviations and the
   * selection cover the experiments that succeeded so far and can change as more finish.
   */
  partial: boolean;
  /** Experiments aggregated (the succeeded ones, so far). */
  included: number;
  /** Experiments in the study's grid. */
  expected: number;
  /** Experiments whose reports are aggregated (the succeeded ones); the same count as `included`. */
  succeeded: number;
  /** Names of the study's experiments not aggregated: not finished yet, failed, cancelled, or deleted. */
  missing: string[];
  configurations: ConfigurationSummary[];
  selection?: Selection;
  /** The table `arcal study` prints. */
  markdown: string;
}

/**
 * Where in the study document a problem of one expanded experiment comes from: a varied value
 * (`vary.<path>.<index>[.rest]`), the study's name (`name`), or the base spec (`base.<path>`).
 */
export function studyProblemPath(doc: StudyDocument, point: StudyExperiment, specPath: string): string {
  const varied = Object.keys(doc.vary ?? {})
    .filter((v) => specPath === v || specPath.startsWith(`${v}.`))
    .sort((a, b) => b.length - a.length)[0];
  if (varied) {
    const value = JSON.stringify(getPath(point.spec, varied));
    const index = doc.vary![varied]!.findIndex((x) => JSON.stringify(x) === value);
    return `vary.${varied}.${index}${specPath.slice(varied.length)}`;
  }
  if (specPath === 'name') return 'name';
  return specPath ? `base.${specPath}` : 'base';
}

export class StudiesService {
  constructor(
    private readonly config: ApiConfig,
    private readonly repos: Repositories,
    private readonly dispatcher: JobDispatcher,
    private readonly experiments: ExperimentsService,
  ) {}

  /**
   * Checks the document, expands it and checks every experiment; every problem is reported once, with its
   * path in the study document. Then the budget: the sum of the estimates (422 with every estimate).
   */
  admit(body: unknown): {
    doc: StudyDocument;
    points: StudyExperiment[];
    specs: ResolvedSpec[];
    estimates: Estimate[];
    estimate: StudyEstimate;
  } {
    const own = studyProblems(body);
    if (own.length) throw new ArcalError('INVALID_SPEC', `the study has ${own.length} problem(s)`, own);
    const doc = body as StudyDocument;
    const size = Object.values(doc.vary ?? {}).reduce((n, values) => n * values.length, 1);
    if (size > MAX_STUDY_EXPERIMENTS)
      throw new ArcalError('INVALID_SPEC', 'the study is too large', [
        {
          path: 'vary',
          message: `expands to ${size} experiments; at most ${MAX_STUDY_EXPERIMENTS} per study (split the grid)`,
        },
      ]);
    let points: StudyExperiment[];
    try {
      points = expandStudy(doc);
    } catch (e) {
      if (!isArcalError(e)) throw e;
      throw new ArcalError('INVALID_SPEC', 'the study cannot be expanded', [{ path: 'vary', message: e.message }]);
    }

    const found = new Map<string, { problem: SpecProblem; experiments: string[] }>();
    const specs: ResolvedSpec[] = [];
    const estimates: Estimate[] = [];
    for (const point of points) {
      const c = this.experiments.check(point.spec);
      if (!c.ok) {
        for (const p of c.problems) {
          const path = studyProblemPath(doc, point, p.path);
          const key = `${path}\u0000${p.message}`;
          const prior = found.get(key);
          if (prior) prior.experiments.push(point.name);
          else found.set(key, { problem: { path, message: p.message }, experiments: [point.name] });
        }
        continue;
      }
      specs.push(c.spec);
      estimates.push(c.estimate);
    }
    if (found.size) {
      // A problem of the base that only some grid points have comes from a combination: say which.
      const problems = [...found.values()].map(({ problem, experiments }) =>
        problem.path.startsWith('vary.') || experiments.length === points.length
          ? problem
          : {
              path: problem.path,
              message: `${problem.message} (in ${experiments.length} of ${points.length} experiments, e.g. ${experiments[0]})`,
            },
      );
      throw new ArcalError(
        'INVALID_SPEC',
        `the study's experiments have ${problems.length} problem(s); paths are in the study document`,
        problems,
      );
    }

    const estimate: StudyEstimate = {
      seconds: estimates.reduce((a, e) => a + e.seconds, 0),
      budgetSeconds: this.config.budgetSeconds,
      experiments: points.length,
      perExperiment: estimates.map((e) => e.seconds),
    };
    if (estimate.seconds > this.config.budgetSeconds) {
      throw Object.assign(
        new ArcalError(
          'BUDGET_EXCEEDED',
          `the study's ${points.length} experiments are estimated at ${estimate.seconds} CPU-seconds together, over this service's budget of ${estimate.budgetSeconds}; shrink the grid or the experiments, or run it on your own hardware with arcal study`,
        ),
        { estimate },
      );
    }
    const heaviest = estimates.reduce((i, e, j) => (e.memoryBytes > estimates[i]!.memoryBytes ? j : i), 0);
    if (estimates[heaviest]!.memoryBytes > this.config.workerMemoryBytes) {
      const e = new MemoryError(estimates[heaviest]!, this.config.workerMemoryBytes);
      throw new ArcalError('MEMORY_EXCEEDED', `${points[heaviest]!.name}: ${e.message}`, [
        { path: 'base', message: e.message },
      ]);
    }
    return { doc, points, specs, estimates, estimate };
  }

  /** The study row, its experiment rows (grid order) and job rows first, enqueued after the commit. */
  async submit(
    projectId: string,
    body: unknown,
    idempotencyKey?: string,
  ): Promise<{ study: StudyRow; experiments: ExperimentRow[]; created: boolean }> {
    const requestHash = createHash('sha256').update(stable(body)).digest('hex');
    if (idempotencyKey) {
      const prior = await this.repos.studies.findByIdempotencyKey(projectId, idempotencyKey);
      if (prior) return this.replay(prior, requestHash);
    }
    const { doc, points, specs, estimates, estimate } = this.admit(body);
    await this.experiments.checkQuota(projectId, points.length);
    const r = await this.repos.studies.createWithExperiments(
      {
        projectId,
        name: doc.name,
        document: doc,
        points: {
          varied: Object.keys(doc.vary ?? {}),
          experiments: points.map(({ spec: _spec, ...p }) => p),
        } satisfies StoredGrid,
        estimate,
        ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
      },
      specs.map((spec, i) => ({ name: spec.name, spec, estimate: estimates[i] })),
      (id) => this.experiments.startJobs(id),
    );
    if (!r.created) return this.replay(r.study, requestHash);
    await this.dispatcher.enqueue(r.jobs);
    return { study: r.study, experiments: r.experiments, created: true };
  }

  private async replay(prior: StudyRow, requestHash: string) {
    if (prior.requestHash && prior.requestHash !== requestHash) {
      throw new ArcalError('CONFLICT', 'this Idempotency-Key was already used with a different request body');
    }
    return { study: prior, experiments: await this.experimentsOf(prior), created: false };
  }

  async get(projectId: string, id: string): Promise<StudyRow> {
    const s = await this.repos.studies.findForProject(id, projectId);
    if (!s) throw new ArcalError('NOT_FOUND', `study ${id} not found`);
    return s;
  }

  /** The study's remaining experiments in grid order. */
  async experimentsOf(study: StudyRow): Promise<ExperimentRow[]> {
    const rows = await this.repos.studies.experiments(study.id);
    const order = new Map(gridOf(study).experiments.map((p, i) => [p.name, i]));
    return rows.sort((a, b) => (order.get(a.name) ?? rows.length) - (order.get(b.name) ?? rows.length));
  }

  /**
   * Mean ± std over seeds per configuration of the experiments that have succeeded so far, with the selection
   * among the configurations that have results; null until one has succeeded. `partial` while others are still
   * queued or running (the numbers and the selection can then change).
   */
  async report(study: StudyRow, experiments: ExperimentRow[]): Promise<StudyReport | null> {
    const doc = documentOf(study);
    const points = gridOf(study).experiments;
    const byName = new Map(experiments.map((e) => [e.name, e]));
    const items: Array<{ experiment: StudyExperiment; report: ExperimentReport }> = [];
    const missing: string[] = [];
    for (const p of points) {
      const e = byName.get(p.name);
      const report = e?.status === 'succeeded' ? await this.repos.results.getReport(e.id) : null;
      if (report)
        items.push({ experiment: { ...p, spec: e!.spec as Record<string, unknown> }, report: report as never });
      else missing.push(p.name);
    }
    if (!items.length) return null;
    const partial = experiments.some((e) => !FINISHED.includes(e.status));
    const configurations = aggregateStudy(items);
    const selection = doc.select
      ? selectBest(configurations, { metric: doc.select.metric ?? 'validation.ece', by: doc.select.by })
      : undefined;
    const markdown = studyMarkdown(doc.name, configurations, selection);
    return {
      partial,
      included: items.length,
      expected: points.length,
      succeeded: items.length,
      missing,
      configurations,
      ...(selection ? { selection } : {}),
      markdown: partial
        ? `${markdown}\nPartial: ${items.length} of ${points.length} experiments so far; the means and the selection can change as more finish.\n`
        : markdown,
    };
  }

  /**
   * Cancels every unfinished experiment of the study exactly as a single cancel does (waiting jobs removed,
   * running ones aborted). Experiments that finish meanwhile are left as they are, so a second cancel changes
   * nothing. Returns the study's experiments afterwards.
   */
  async cancel(projectId: string, id: string): Promise<{ study: StudyRow; experiments: ExperimentRow[] }> {
    const study = await this.get(projectId, id);
    const open = (await this.repos.studies.experiments(study.id)).filter((e) => !FINISHED.includes(e.status));
    for (let i = 0; i < open.length; i += CANCEL_BATCH) {
      await Promise.all(
        open.slice(i, i + CANCEL_BATCH).map(async (e) => {
          try {
            await this.experiments.cancel(projectId, e.id);
          } catch (err) {
            // CONFLICT: it finished meanwhile; NOT_FOUND: deleted meanwhile. Either way nothing is left to stop.
            if (!(isArcalError(err) && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND'))) throw err;
          }
        }),
      );
    }
    return { study, experiments: await this.experimentsOf(study) };
  }

  /**
   * Deletes the study and its experiments (their records in one transaction, then their artifact folders) once
   * every experiment has finished; 409 while any is queued or running. Returns the artifact folders that could
   * not be removed (nothing refers to them any more).
   */
  async delete(projectId: string, id: string): Promise<{ leftovers: string[] }> {
    const study = await this.get(projectId, id);
    const r = await this.repos.studies.deleteIfFinished(study.id);
    if (!r) throw new ArcalError('NOT_FOUND', `study ${id} not found`);
    if (!r.deleted) {
      const what = STATUSES.map((st) => [st, r.unfinished.filter((e) => e.status === st).length] as const)
        .filter(([, n]) => n > 0)
        .map(([st, n]) => `${n} ${st}`)
        .join(', ');
      throw new ArcalError('CONFLICT', `study ${id} has unfinished experiments (${what}); cancel it before deleting`);
    }
    const removed = await Promise.allSettled(r.experimentIds.map((e) => this.experiments.removeArtifacts(e)));
    return {
      leftovers: r.experimentIds
        .filter((_, i) => removed[i]!.status === 'rejected')
        .map((e) => this.experiments.artifactFolder(e)),
    };
  }
}
