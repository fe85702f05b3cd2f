/**
 * One plan, two executors: for tiny synthetic specs of every method and ensemble mode (independent and joint,
 * precomputed and on the fly), the inline runner (runExperiment with `onStep`) and the job graph (the real
 * handlers, run one job at a time in this process against PostgreSQL, with `ctx.onStep`) visit the same plan
 * steps, in the same order, and both are the steps @arcal/core/plan lists for the spec.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JobKind, type ResolvedSpec, validateSpec } from '@arcal/contracts';
import { type PlanStep, planSteps, stepKey } from '@arcal/core/plan';
import { createDb, createRepositories, type JobRequest, jobIds } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerContext } from '../src/context.ts';
import { HANDLERS } from '../src/handlers.ts';
import { runJob } from '../src/run-job.ts';

const integration = await integrationEnv('plan_steps');
const env = integration.available ? integration.env : undefined;

/** Shards of 8 examples with attack batches of 8: the 24 training examples are attacked in three shard jobs. */
const SHARD_EXAMPLES = 8;
const BACKEND = 'wasm';

const base = {
  seed: 3,
  dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], trainLimit: 24, validationSize: 12, testLimit: 12 },
  model: { arch: 'mlp', hidden: [8] },
  training: { epochs: 2, batchSize: 12, optimizer: 'sgd', learningRate: 0.1 },
  evaluation: { bins: 5, robustnessSubsets: 0 },
};
const arAdals = (source: 'precompute' | 'on-the-fly') => ({
  kind: 'ar-adals',
  subsets: 2,
  alpha: 1,
  robustness: { attack: 'fmn-l2', source, everyEpochs: 1, params: { steps: 5, batchSize: 8 } },
});
const onVanilla = { bins: 5, robustnessSubsets: 2, robustness: { reference: 'vanilla', attack: 'fmn-l2' } };
const independent = (members: number) => ({ members, mode: 'independent' });
const joint = { members: 2, mode: 'joint' };

/**
 * Title, spec, and the number of jobs of the kinds that do the work, counted by hand: with attack batches of 8
 * shard jobs cover each attacked split in pieces of 8 (train 24 → 3, validation 12 → 2, test 12 → 2); a joint ensemble of 2 members
 * over 2 epochs has 4 member-epoch jobs and 2 barriers, and on the fly a re-rank job before each epoch.
 */
const CASES: Array<[string, Record<string, unknown>, Partial<Record<JobKind, number>>]> = [
  [
    'vanilla, one member (one train:experiment job)',
    { method: { kind: 'vanilla' }, ensemble: independent(1) },
    { 'train:experiment': 1, 'train:member': 0 },
  ],
  [
    'label smoothing, 2 members',
    { method: { kind: 'label-smoothing' }, ensemble: independent(2) },
    { 'train:member': 2, 'train:vanilla': 0 },
  ],
  [
    'mixup, 2 members, test subsets on themselves',
    {
      method: { kind: 'mixup' },
      ensemble: independent(2),
      evaluation: { ...base.evaluation, robustnessSubsets: 2, robustness: { reference: 'self', attack: 'fmn-l2' } },
    },
    { 'train:member': 2, 'attack:robustness-shard': 0 },
  ],
  ['CCAT, one member', { method: { kind: 'ccat' }, ensemble: independent(1) }, { 'train:experiment': 1 }],
  [
    'temperature scaling, test subsets on the vanilla reference',
    { method: { kind: 'temperature-scaling' }, ensemble: independent(1), evaluation: onVanilla },
    // no robustness params: attack batches of 256, so the 12 test examples are one shard
    { 'train:vanilla': 1, 'attack:robustness-shard': 1, 'train:member': 1 },
  ],
  [
    'mix-n-match, 2 members',
    { method: { kind: 'mix-n-match' }, ensemble: independent(2) },
    { 'train:member': 2, 'evaluate:evaluate': 1 },
  ],
  [
    'AdaLS, joint',
    { method: { kind: 'adals', alpha: 1 }, ensemble: joint },
    { 'train:member-epoch': 4, 'orchestrate:epoch-barrier': 2, 'attack:rerank': 0 },
  ],
  [
    'AR-AdaLS precomputed, 2 independent members, test on the reference',
    { method: arAdals('precompute'), ensemble: independent(2), evaluation: onVanilla },
    { 'attack:robustness-shard': 7, 'train:member': 2 },
  ],
  [
    'AR-AdaLS precomputed, joint',
    { method: arAdals('precompute'), ensemble: joint },
    { 'attack:robustness-shard': 5, 'train:member-epoch': 4, 'orchestrate:epoch-barrier': 2, 'attack:rerank': 0 },
  ],
  [
    'AR-AdaLS on the fly, 2 independent members',
    { method: arAdals('on-the-fly'), ensemble: independent(2) },
    { 'attack:robustness-shard': 5, 'train:member': 2 },
  ],
  [
    'AR-AdaLS on the fly, joint',
    { method: arAdals('on-the-fly'), ensemble: joint },
    { 'attack:robustness-shard': 5, 'attack:rerank': 2, 'train:member-epoch': 4, 'orchestrate:epoch-barrier': 2 },
  ],
];

const resolved = (name: string, over: Record<string, unknown>): ResolvedSpec => {
  const v = validateSpec({ ...base, name, ...over });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
};

describe.skipIf(!env)('one plan, two executors: the inline runner and the job graph visit the same steps', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  const dirs: string[] = [];
  const tmp = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `arcal-plan-${name}-`));
    dirs.push(d);
    return d;
  };
  let core: typeof import('@arcal/core');

  beforeAll(async () => {
    core = await import('@arcal/core');
    await core.ready({ backend: BACKEND });
  });

  afterAll(async () => {
    await db?.$disconnect();
    await env?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function inlineSteps(spec: ResolvedSpec): Promise<PlanStep[]> {
    const data = await core.loadExperimentData(spec.dataset, spec.seed, { allowDownload: false });
    const steps: PlanStep[] = [];
    await core.runExperiment(spec, { outDir: tmp('inline'), data, onStep: (s) => steps.push(s) });
    return steps;
  }

  /** The job graph run to its end one job at a time, first in first out, with every dispatched job's row written. */
  async function graphSteps(spec: ResolvedSpec): Promise<{ steps: PlanStep[]; kinds: JobKind[]; status: string }> {
    const steps: PlanStep[] = [];
    const queue: JobRequest[] = [];
    const seen = new Set<string>();
    const enqueue = (reqs: JobRequest[]) => {
      for (const r of reqs) {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        queue.push(r);
      }
    };
    const project = await repos.projects.ensureProject('plan-steps');
    const created = await repos.experiments.createWithJobs(
      { projectId: project.id, name: spec.name, spec, estimate: {} },
      (id) => [{ id: jobIds.start(id, 1), kind: 'orchestrate:start', experimentId: id, payload: { experimentId: id } }],
    );
    enqueue(created.jobs);
    const ctx = {
      config: { artifactDir: tmp('graph'), shardExamples: SHARD_EXAMPLES, backend: BACKEND },
      repos,
      dispatcher: {
        async dispatch(reqs: JobRequest[]) {
          await repos.jobs.createPending(reqs);
          enqueue(reqs);
        },
      },
      events: { publish: async () => {} },
      log: () => {},
      onStep: (s: PlanStep) => steps.push(s),
      close: async () => {},
    } as unknown as WorkerContext;
    const kinds: JobKind[] = [];
    for (let r = queue.shift(); r; r = queue.shift()) {
      kinds.push(r.kind);
      const [queueName, name] = r.kind.split(':') as [string, string];
      await runJob(ctx, HANDLERS, { id: r.id, name, queueName, data: r.payload, attemptsMade: 0 });
    }
    const row = await repos.experiments.get(created.experiment.id);
    return { steps, kinds, status: row?.status ?? 'missing' };
  }

  for (const [title, over, jobs] of CASES) {
    it(title, async () => {
      const spec = resolved(title.replace(/[^a-z0-9]+/gi, '-').toLowerCase(), over);
      // 24 training, 12 validation and 12 test examples (the dataset's limits)
      const planned = planSteps(spec, { train: 24, validation: 12, test: 12 });
      const inline = await inlineSteps(spec);
      const graph = await graphSteps(spec);
      expect(graph.status).toBe('succeeded');
      expect(graph.kinds.at(-1)).toBe('orchestrate:finalize');
      const count = (k: string) => graph.kinds.filter((x) => x === k).length;
      expect(Object.fromEntries(Object.keys(jobs).map((k) => [k, count(k)]))).toEqual(jobs);
      expect(inline.map(stepKey)).toEqual(planned.map(stepKey));
      expect(graph.steps).toEqual(inline);
      expect(inline).toEqual(planned);
    }, 60_000);
  }
});
