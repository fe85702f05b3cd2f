/**
 * What the API decides about experiments: admission (spec, dataset registry, budget), submission
 * (rows first, then the queue), cancel, retry, delete. Talks to storage only through repositories,
 * to Redis only through the dispatcher and the event publisher.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ArcalError, type ResolvedSpec, type SpecProblem, validateSpec } from '@arcal/contracts';
import {
  type EventPublisher,
  type ExperimentRow,
  FINISHED,
  type JobDispatcher,
  type JobRequest,
  jobIds,
  type Repositories,
} from '@arcal/db';
import type { ArtifactStore } from '@arcal/storage';
import type { ApiConfig } from '../config.ts';
import { type Estimate, estimateCost } from '../estimate.ts';

const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)} MiB`;

export class MemoryError extends ArcalError {
  constructor(
    readonly estimate: Estimate,
    workerMemoryBytes: number,
  ) {
    super(
      'MEMORY_EXCEEDED',
      `estimated peak memory ${mib(estimate.memoryBytes)} exceeds a worker's ${mib(workerMemoryBytes)}; reduce the data (trainLimit, testLimit), batch sizes, members or model size, or run it on your own hardware with arcal run`,
    );
  }
}

export class BudgetError extends ArcalError {
  constructor(readonly estimate: Estimate) {
    super(
      'BUDGET_EXCEEDED',
      `estimated cost ${estimate.seconds} CPU-seconds exceeds this service's budget of ${estimate.budgetSeconds}; reduce epochs, members, data or model size, or run it on your own hardware with arcal run`,
    );
  }
}

/** Problems that only the service adds to the spec's own rules. */
export function serviceProblems(raw: any, spec: ResolvedSpec, datasets: string[]): SpecProblem[] {
  const out: SpecProblem[] = [];
  if (raw?.dataset?.path !== undefined) {
    out.push({
      path: 'dataset.path',
      message: 'is not accepted by the service: datasets are named from the server registry',
    });
  }
  if (!datasets.includes(spec.dataset.name)) {
    out.push({ path: 'dataset.name', message: `is not available on this server (available: ${datasets.join(', ')})` });
  }
  return out;
}

/** JSON with object keys sorted, so equal documents hash equally whatever their key order. */
export const stable = (v: unknown): string =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? `{${Object.keys(v as object)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${stable((v as any)[k])}`)
        .join(',')}}`
    : Array.isArray(v)
      ? `[${v.map(stable).join(',')}]`
      : JSON.stringify(v);

export class ExperimentsService {
  constructor(
    private readonly config: ApiConfig,
    private readonly repos: Repositories,
    private readonly dispatcher: JobDispatcher,
    private readonly events: EventPublisher,
    private readonly store: ArtifactStore,
  ) {}

  /**
   * Every problem the service finds in a spec (its own rules first; the registry's only once those pass), or
   * the resolved spec with its cost estimate. The budget is not checked here (a study sums its experiments).
   */
  check(body: unknown): { ok: true; spec: ResolvedSpec; estimate: Estimate } | { ok: false; problems: SpecProblem[] } {
    const v = validateSpec(body);
    if (!v.ok) return v;
    const extra = serviceProblems(body, v.spec, this.config.datasets);
    if (extra.length) return { ok: false, problems: extra };
    const estimate = estimateCost(v.spec, {
      workerFlops: this.config.workerFlops,
      budgetSeconds: this.config.budgetSeconds,
    });
    return { ok: true, spec: v.spec, estimate };
  }

  /** Validates everything, then admits. Throws ArcalError (400 every problem, 422 budget or memory). */
  admit(body: unknown): { spec: ResolvedSpec; estimate: Estimate } {
    const c = this.check(body);
    if (!c.ok)
      throw new ArcalError('INVALID_SPEC', `the experiment spec has ${c.problems.length} problem(s)`, c.problems);
    if (c.estimate.seconds > this.config.budgetSeconds) throw new BudgetError(c.estimate);
    if (c.estimate.memoryBytes > this.config.workerMemoryBytes)
      throw new MemoryError(c.estimate, this.config.workerMemoryBytes);
    return { spec: c.spec, estimate: c.estimate };
  }

  /**
   * Refuses (429) a submission that would take the project over its cap of unfinished experiments, so one
   * project cannot fill the queues ahead of every other. A soft cap: two racing submissions may both pass.
   */
  async checkQuota(projectId: string, adding: number): Promise<void> {
    const cap = this.config.maxActivePerProject;
    const active = await this.repos.experiments.countUnfinished(projectId);
    if (active + adding > cap)
      throw new ArcalError(
        'QUOTA_EXCEEDED',
        `this project has ${active} unfinished experiment(s); ${adding} more would exceed its cap of ${cap}; wait for some to finish or cancel them`,
      );
  }

  /** The job rows that start an experiment's attempt (the orchestrator plans the rest). */
  startJobs(experimentId: string, attempt = 1): JobRequest[] {
    return [
      {
        id: jobIds.start(experimentId, attempt),
        kind: 'orchestrate:start',
        experimentId,
        payload: { experimentId },
      },
    ];
  }

  /** Rows first (experiment + its start job), enqueue after commit. */
  async submit(
    projectId: string,
    body: unknown,
    idempotencyKey?: string,
  ): Promise<{ experiment: ExperimentRow; created: boolean }> {
    const requestHash = createHash('sha256').update(stable(body)).digest('hex');
    if (idempotencyKey) {
      const prior = await this.repos.experiments.findByIdempotencyKey(projectId, idempotencyKey);
      if (prior) return this.replay(prior, requestHash);
    }
    const { spec, estimate } = this.admit(body);
    await this.checkQuota(projectId, 1);
    const r = await this.repos.experiments.createWithJobs(
      { projectId, name: spec.name, spec, estimate, ...(idempotencyKey ? { idempotencyKey, requestHash } : {}) },
      (id) => this.startJobs(id),
    );
    if (!r.created) return this.replay(r.experiment, requestHash);
    await this.dispatcher.enqueue(r.jobs);
    return { experiment: r.experiment, created: true };
  }

  private replay(prior: ExperimentRow, requestHash: string) {
    if (prior.requestHash && prior.requestHash !== requestHash) {
      throw new ArcalError('CONFLICT', 'this Idempotency-Key was already used with a different request body');
    }
    return { experiment: prior, created: false };
  }

  async get(projectId: string, id: string): Promise<ExperimentRow> {
    const e = await this.repos.experiments.findForProject(id, projectId);
    if (!e) throw new ArcalError('NOT_FOUND', `experiment ${id} not found`);
    return e;
  }

  /** Stops an unfinished experiment: waiting jobs removed, running ones aborted by their workers. */
  async cancel(projectId: string, id: string): Promise<ExperimentRow> {
    const e = await this.get(projectId, id);
    if (FINISHED.includes(e.status)) throw new ArcalError('CONFLICT', `experiment ${id} is already ${e.status}`);
    const moved = await this.repos.experiments.transition(id, ['queued', 'running', 'cancelling'], 'cancelled', {
      code: 'CANCELLED',
      message: 'cancelled on request',
    });
    if (!moved) throw new ArcalError('CONFLICT', `experiment ${id} finished meanwhile`);
    const jobs = await this.repos.jobs.cancelUnfinished(id);
    await this.dispatcher.removeWaiting(jobs.map((j) => ({ id: j.id, queue: j.queue })));
    await this.events.publishCancel(id);
    await this.repos.runs.setStatus(id, 'cancelled');
    await this.events.publish(id, { type: 'status', status: 'cancelled' });
    return this.get(projectId, id);
  }

  /** Runs a failed or cancelled experiment again; finished stages are reused from Postgres and checkpoints. */
  async retry(projectId: string, id: string): Promise<ExperimentRow> {
    await this.get(projectId, id);
    const r = await this.repos.experiments.beginRetry(id, (attempt) => this.startJobs(id, attempt));
    if (!r) throw new ArcalError('CONFLICT', `only failed or cancelled experiments can be retried`);
    await this.dispatcher.enqueue(r.jobs);
    await this.events.publish(id, { type: 'status', status: 'queued' });
    return this.get(projectId, id);
  }

  /** Deletes a finished experiment with its rows and its artifact folder. */
  async delete(projectId: string, id: string): Promise<void> {
    const e = await this.get(projectId, id);
    if (!FINISHED.includes(e.status))
      throw new ArcalError('CONFLICT', `experiment ${id} is ${e.status}; cancel it before deleting`);
    await this.removeArtifacts(id);
    await this.repos.experiments.delete(id);
  }

  /**
   * Removes an experiment's objects from the artifact store, records and bytes (its rows, artifact rows included,
   * go with the experiment row).
   */
  async removeArtifacts(id: string): Promise<void> {
    await this.store.deletePrefix(`${id}/`);
  }

  /** Where an experiment's objects live: its folder, or its prefix in the bucket. */
  artifactFolder(id: string): string {
    return this.store.kind === 'file' ? join(resolve(this.config.artifactDir), id) : `${this.store.location}${id}/`;
  }
}
