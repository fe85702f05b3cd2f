/**
 * End to end through real processes (API + 2 workers + PostgreSQL + Redis): experiments that run as a graph
 * of jobs. Each must store exactly what an inline runExperiment of the same spec gives in this process.
 *
 * - independent AR-AdaLS ensemble with precomputed robustness: vanilla reference → robustness shards of
 *   train/validation/test (several shards for train) → merge → 2 member jobs → evaluate → finalize;
 * - joint AR-AdaLS ensemble ("AR-AdaLS of Ensemble"): per epoch one job per member and a barrier that
 *   updates the shared soft-label table; a worker is killed with SIGKILL mid-training and the experiment
 *   still completes with the same numbers;
 * - joint AR-AdaLS ensemble re-ranked on the fly: epoch 0 trains on the reference model's ranking, and re-rank
 *   jobs attack the averaged ensemble between epochs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { integrationEnv } from '@arcal/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followEvents, outcome, type Service, startService, until } from './harness.ts';
import { expectSameAsInline } from './same-as-inline.ts';

const integration = await integrationEnv('e2e_graph');
const env = integration.available ? integration.env : undefined;

/** Shards of 64 examples with attack batches of 32: train (128) splits in two, validation and test in one each. */
const SHARD_EXAMPLES = 64;

const base = {
  seed: 5,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 128, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.05 },
  method: {
    kind: 'ar-adals',
    subsets: 2,
    alpha: 1,
    robustness: { attack: 'fmn-l2', source: 'precompute', params: { steps: 10, batchSize: 32 } },
  },
  evaluation: { bins: 10, robustnessSubsets: 2, robustness: { reference: 'vanilla' } },
};

const jobsOf = async (id: string) => {
  const c = new pg.Client({ connectionString: env!.databaseUrl });
  await c.connect();
  try {
    return (
      await c.query('select id, queue, name, state, attempts from jobs where experiment_id = $1 order by created_at', [
        id,
      ])
    ).rows;
  } finally {
    await c.end();
  }
};

describe.skipIf(!env)('service end to end: job graph (API + 2 workers + PostgreSQL + Redis)', () => {
  let service: Service;

  beforeAll(async () => {
    service = await startService(env!, {
      workers: 2,
      workerEnv: { ARCAL_SHARD_EXAMPLES: String(SHARD_EXAMPLES), ARCAL_FAULT_PAUSE_JOBS: '-m\\d-e1$' },
    });
  });

  afterAll(async () => {
    await service?.stop();
    await env?.cleanup();
  });

  it('independent AR-AdaLS, 2 members: reference → robustness shards → merge → 2 member jobs → evaluate, equal to inline', async () => {
    const raw = { ...base, name: 'e2e-graph-independent', ensemble: { members: 2, mode: 'independent' } };
    const submitted = await service.request('POST', '/v1/experiments', raw);
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const events = await followEvents(service, id, 150_000);
    expect(outcome(events)).toBe('succeeded');

    const { metrics } = await expectSameAsInline(service, id, raw);
    // The reference model's epochs are stored as member -1.
    expect(metrics.body.epochs.filter((r: any) => r.member === -1).map((r: any) => r.epoch)).toEqual([1, 2]);

    const jobs = await jobsOf(id);
    const kinds = jobs.map((j) => `${j.queue}:${j.name}`);
    expect(kinds.filter((k) => k === 'attack:robustness-shard')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'train:member')).toHaveLength(2);
    for (const k of [
      'orchestrate:start',
      'train:vanilla',
      'orchestrate:merge-robustness',
      'orchestrate:members-done',
      'evaluate:evaluate',
      'orchestrate:finalize',
    ]) {
      expect(
        kinds.filter((x) => x === k),
        k,
      ).toHaveLength(1);
    }
    expect(jobs.every((j) => j.state === 'completed')).toBe(true);

    const c = new pg.Client({ connectionString: env!.databaseUrl });
    await c.connect();
    const shards = (
      await c.query(
        'select split, shard, start, "end", path from robustness_shards where experiment_id = $1 order by split, shard',
        [id],
      )
    ).rows;
    await c.end();
    expect(shards.map((s) => [s.split, s.shard, s.start, s.end])).toEqual([
      ['test', 0, 0, 64],
      ['train', 0, 0, 64],
      ['train', 1, 64, 128],
      ['validation', 0, 0, 64],
    ]);
    // The merged training radii are the two shards' radii, in order.
    const dir = join(service.artifactDir, id, 'reference');
    const merged = JSON.parse(readFileSync(join(dir, 'robustness-train.json'), 'utf8'));
    const parts = [0, 1].map(
      (s) => JSON.parse(readFileSync(join(dir, 'shards', `robustness-train-${s}.json`), 'utf8')).norms,
    );
    expect(merged.norms).toEqual([...parts[0], ...parts[1]]);
  }, 240_000);
  it('joint AR-AdaLS of 2 members: per-epoch member jobs and barrier; a worker killed (SIGKILL) mid-epoch; equal to inline', async () => {
    const raw = {
      ...base,
      name: 'e2e-graph-joint',
      training: { ...base.training, epochs: 3 },
      ensemble: { members: 2, mode: 'joint' },
    };
    const submitted = await service.request('POST', '/v1/experiments', raw);
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    // Kill whichever worker starts a member's second epoch, as soon as it starts it. The workers pause the first
    // attempt of those jobs for 3 s after starting them (ARCAL_FAULT_PAUSE_JOBS below), so the kill always lands
    // while the job runs (a member epoch of this size otherwise finishes within the 100 ms polling interval).
    const victimJob = new RegExp(`"job":"(${id}-m\\d-e1)","name":"member-epoch","msg":"active"`);
    const killed = until(
      async () => {
        for (const w of service.workers) {
          const m = victimJob.exec(w.output());
          if (m && w.child.exitCode === null) {
            w.child.kill('SIGKILL');
            return { worker: w, job: m[1]! };
          }
        }
        return undefined;
      },
      150_000,
      'a worker to start a member epoch 2 job',
    );
    const events = await followEvents(service, id, 200_000);
    const { worker, job } = await killed;
    expect(await worker.exited).toBe('SIGKILL');
    expect(outcome(events)).toBe('succeeded');
    // The killed job ran again on the surviving worker.
    const survivor = service.workers.find((w) => w !== worker)!;
    expect(survivor.output()).toContain(`"job":"${job}","name":"member-epoch","msg":"completed"`);

    const { metrics } = await expectSameAsInline(service, id, raw);
    // The shared table after the last epoch is what Postgres holds.
    const ensemble = metrics.body.epochs.filter((r: any) => r.member === -2);
    expect(ensemble.map((r: any) => r.epoch)).toEqual([1, 2, 3]);
    const c = new pg.Client({ connectionString: env!.databaseUrl });
    await c.connect();
    const row = (await c.query('select soft_labels, current_epoch from experiments where id = $1', [id])).rows[0];
    await c.end();
    expect(row.current_epoch).toBe(3);
    expect(row.soft_labels.pTrue).toEqual(ensemble[2].softLabels.pTrue);
    const kinds = (await jobsOf(id)).map((j) => `${j.queue}:${j.name}`);
    expect(kinds.filter((k) => k === 'train:member-epoch')).toHaveLength(6);
    expect(kinds.filter((k) => k === 'orchestrate:epoch-barrier')).toHaveLength(3);
  }, 300_000);
  it('joint AdaLS of 2 members without a reference model: start fans out member epochs directly; equal to inline', async () => {
    const raw = {
      ...base,
      name: 'e2e-graph-joint-adals',
      method: { kind: 'adals', alpha: 1 },
      evaluation: { bins: 10, robustnessSubsets: 0 },
      ensemble: { members: 2, mode: 'joint' },
    };
    const submitted = await service.request('POST', '/v1/experiments', raw);
    const id = submitted.body.id as string;
    const events = await followEvents(service, id, 150_000);
    expect(outcome(events)).toBe('succeeded');
    await expectSameAsInline(service, id, raw);
    const kinds = (await jobsOf(id)).map((j) => `${j.queue}:${j.name}`);
    expect(kinds).not.toContain('train:vanilla');
    expect(kinds.filter((k) => k === 'train:member-epoch')).toHaveLength(4);
  }, 240_000);
  it('joint AR-AdaLS of 2 members re-ranked on the fly every 2 epochs: re-rank jobs before epochs 1 and 3; equal to inline', async () => {
    const raw = {
      ...base,
      name: 'e2e-graph-joint-on-the-fly',
      training: { ...base.training, epochs: 3 },
      method: {
        ...base.method,
        robustness: { attack: 'fmn-l2', source: 'on-the-fly', everyEpochs: 2, params: { steps: 10, batchSize: 32 } },
      },
      evaluation: { bins: 10, robustnessSubsets: 0 },
      ensemble: { members: 2, mode: 'joint' },
    };
    const submitted = await service.request('POST', '/v1/experiments', raw);
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const events = await followEvents(service, id, 200_000);
    expect(outcome(events)).toBe('succeeded');
    await expectSameAsInline(service, id, raw);

    const jobs = await jobsOf(id);
    expect(jobs.every((j) => j.state === 'completed')).toBe(true);
    const kinds = jobs.map((j) => `${j.queue}:${j.name}`);
    expect(kinds).not.toContain('train:experiment');
    // the first ranking is the vanilla reference's (trained and attacked as for precomputed robustness)
    expect(kinds).toContain('train:vanilla');
    expect(kinds).toContain('orchestrate:merge-robustness');
    // runExperiment re-ranks before epoch index 0 and 2 (everyEpochs 2), not before 1 or after the last
    expect(jobs.filter((j) => j.name === 'rerank').map((j) => [j.id, j.queue])).toEqual([
      [`${id}-rerank-e0`, 'attack'],
      [`${id}-rerank-e2`, 'attack'],
    ]);
    expect(kinds.filter((k) => k === 'train:member-epoch')).toHaveLength(6);
    expect(kinds.filter((k) => k === 'orchestrate:epoch-barrier')).toHaveLength(3);
    // Each re-rank ran after the barrier of the epoch before it and before that epoch's member jobs.
    const order = jobs.map((j) => j.id);
    expect(order.indexOf(`${id}-rerank-e2`)).toBeGreaterThan(order.indexOf(`${id}-barrier-e1`));
    expect(order.indexOf(`${id}-rerank-e2`)).toBeLessThan(order.indexOf(`${id}-m0-e2`));
    expect(order.indexOf(`${id}-rerank-e0`)).toBeLessThan(order.indexOf(`${id}-m0-e0`));
    // Both subsets are populated by the rankings (2 subsets of 128 train / 64 validation examples each half),
    // and joint.json keeps the ranking the last epoch trained with.
    const dir = join(service.artifactDir, id, 'joint');
    const r0 = JSON.parse(readFileSync(join(dir, 'ranking-e0.json'), 'utf8'));
    const r2 = JSON.parse(readFileSync(join(dir, 'ranking-e2.json'), 'utf8'));
    for (const r of [r0, r2]) {
      expect(r.train.filter((s: number) => s === 1)).toHaveLength(64);
      expect(r.val.filter((s: number) => s === 1)).toHaveLength(32);
    }
    // epoch 0's ranking is the reference model's radii ranked by hand (ascending, ties by index, R = 2 halves)
    const byHand = (split: string) => {
      const f = JSON.parse(
        readFileSync(join(service.artifactDir, id, 'reference', `robustness-${split}.json`), 'utf8'),
      );
      const norms = (f.norms as Array<number | null>).map((v) => v ?? Number.POSITIVE_INFINITY);
      const order = norms
        .map((_, i) => i)
        .sort((a, b) => (norms[a] === norms[b] ? a - b : norms[a] < norms[b] ? -1 : 1));
      const out = new Array<number>(norms.length);
      order.forEach((i, rank) => {
        out[i] = Math.floor((rank * 2) / norms.length);
      });
      return out;
    };
    expect(r0.train).toEqual(byHand('train'));
    expect(r0.val).toEqual(byHand('validation'));
    const joint = JSON.parse(readFileSync(join(service.artifactDir, id, 'joint.json'), 'utf8'));
    expect(joint.epoch).toBe(3);
    expect(joint.ranking).toEqual({ train: r2.train, val: r2.val });
  }, 300_000);
});
