/**
 * The reconciler on disagreements built by hand between Postgres's job rows and BullMQ's jobs (real PostgreSQL
 * and Redis): each row ends in the state that BullMQ's job implies, or is handed to BullMQ again.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeQueues,
  createDb,
  createQueues,
  createRedis,
  createRepositories,
  type JobRequest,
  jobOptions,
  Reconciler,
} from '../src/index.ts';
import { integrationEnv } from '../src/testing.ts';

const integration = await integrationEnv('reconciler');
const env = integration.available ? integration.env : undefined;

describe.skipIf(!env)('Reconciler (real PostgreSQL + Redis)', () => {
  const db = env ? createDb(env.databaseUrl) : undefined!;
  const repos = env ? createRepositories(db) : undefined!;
  const redis = env ? createRedis(env.redisUrl, 'worker') : undefined!;
  const queues = env ? createQueues(redis, env.prefix) : undefined!;
  const published: Array<{ id: string; event: unknown }> = [];
  const reconciler = env
    ? new Reconciler(repos, queues, {
        graceMs: 60_000,
        events: {
          publish: async (id, event) => {
            published.push({ id, event });
            return undefined as never;
          },
        },
      })
    : undefined!;
  // Takes jobs by hand (no processor) to put them into BullMQ's completed and failed states.
  const hand = env ? new Worker('orchestrate', null, { connection: redis, prefix: env.prefix }) : undefined!;

  afterAll(async () => {
    await hand?.close();
    await closeQueues(queues);
    redis?.disconnect();
    await db?.$disconnect();
    await env?.cleanup();
  });

  const experiment = async (status: 'queued' | 'running' | 'cancelled' = 'running') => {
    const p = await repos.projects.ensureProject('reconcile');
    const { experiment: e } = await repos.experiments.createWithJobs(
      { projectId: p.id, name: 'r', spec: {}, estimate: {} },
      () => [],
    );
    if (status !== 'queued') await db.experiment.update({ where: { id: e.id }, data: { status } });
    return e.id;
  };

  /** A row in `state`, last changed an hour ago (outside the grace period). */
  const row = async (experimentId: string, suffix: string, state: 'queued' | 'active' | 'completed') => {
    const r: JobRequest = {
      id: `${experimentId}-${suffix}`,
      kind: 'orchestrate:noop',
      experimentId,
      payload: { experimentId },
    };
    await repos.jobs.createPending([r]);
    await db.$executeRawUnsafe(
      `UPDATE jobs SET state = $2::"JobState", bullmq_id = id, updated_at = now() - interval '1 hour' WHERE id = $1`,
      r.id,
      state,
    );
    return r;
  };

  const add = (r: JobRequest) => queues.orchestrate.add('noop', r.payload, jobOptions(r.kind, r.id));

  /** Moves BullMQ's job `id` (the next one waiting) to completed with `value` or to failed with `reason`. */
  const finish = async (id: string, outcome: { value: unknown } | { reason: string }) => {
    const token = randomUUID();
    const job = await hand.getNextJob(token);
    expect(job?.id).toBe(id);
    if ('value' in outcome) await job!.moveToCompleted(outcome.value, token, false);
    else {
      // no retries left, so BullMQ's state is failed
      job!.attemptsMade = job!.opts.attempts ?? 1;
      await job!.moveToFailed(new Error(outcome.reason), token, false);
    }
  };

  it('mends every kind of disagreement and leaves agreeing rows alone', async () => {
    // active row, job missing from BullMQ, experiment running: enqueued again under the same id
    const e1 = await experiment('running');
    const lost = await row(e1, 'lost', 'active');
    // queued row, job missing, experiment cancelled: the row is closed
    const e2 = await experiment('cancelled');
    const orphan = await row(e2, 'orphan', 'queued');
    // active row whose job BullMQ completed: the row takes BullMQ's result
    const e3 = await experiment('running');
    const done = await row(e3, 'done', 'active');
    await add(done);
    await finish(done.id, { value: { ok: 7 } });
    // queued row whose job completed by skipping (its experiment had ended): cancelled, not completed
    const e4 = await experiment('running');
    const skipped = await row(e4, 'skipped', 'queued');
    await add(skipped);
    await finish(skipped.id, { value: { skipped: 'experiment is cancelled' } });
    // active row whose job failed for good while Postgres was unreachable: row and experiment failed
    const e5 = await experiment('running');
    const broken = await row(e5, 'broken', 'active');
    await add(broken);
    await finish(broken.id, { reason: 'connect ECONNREFUSED 127.0.0.1:5999' });
    // agreeing: queued row, waiting job
    const e6 = await experiment('running');
    const waiting = await row(e6, 'waiting', 'queued');
    await add(waiting);
    // within the grace period: a fresh active row without a job is not touched yet
    const e7 = await experiment('running');
    const fresh = await row(e7, 'fresh', 'active');
    await db.$executeRawUnsafe(`UPDATE jobs SET updated_at = now() WHERE id = $1`, fresh.id);

    const report = await reconciler.reconcile();

    expect(report.requeued).toEqual([lost.id]);
    expect(report.cancelled.sort()).toEqual([orphan.id, skipped.id].sort());
    expect(report.completed).toEqual([done.id]);
    expect(report.failed).toEqual([broken.id]);
    const state = async (id: string) => (await repos.jobs.get(id))!;
    expect((await state(lost.id)).state).toBe('queued');
    const requeued = await queues.orchestrate.getJob(lost.id);
    expect(await requeued!.getState()).toBe('waiting');
    expect(requeued!.data).toEqual({ experimentId: e1 });
    expect((await state(orphan.id)).state).toBe('cancelled');
    expect(await state(done.id)).toMatchObject({ state: 'completed', result: { ok: 7 } });
    expect(await state(skipped.id)).toMatchObject({
      state: 'cancelled',
      result: { skipped: 'experiment is cancelled' },
    });
    expect((await state(broken.id)).state).toBe('failed');
    const failed = (await repos.experiments.get(e5))!;
    expect(failed.status).toBe('failed');
    expect((failed.error as { message: string }).message).toBe(
      'orchestrate:noop failed: connect ECONNREFUSED 127.0.0.1:5999',
    );
    expect(published).toContainEqual({
      id: e5,
      event: { type: 'status', status: 'failed', error: failed.error },
    });
    expect((await state(waiting.id)).state).toBe('queued');
    expect((await state(fresh.id)).state).toBe('active');
    for (const id of [e1, e3, e4, e6, e7]) expect((await repos.experiments.get(id))!.status).toBe('running');

    // A second pass finds nothing more to mend (the re-enqueued row is fresh now).
    const again = await reconciler.reconcile();
    expect([...again.requeued, ...again.completed, ...again.failed, ...again.cancelled, ...again.stuck]).toEqual([]);
  });

  it('fails a running experiment that no open job will ever move on, with a reason', async () => {
    const stuck = await experiment('running');
    await row(stuck, 'finished', 'completed');
    const busy = await experiment('running');
    await row(busy, 'finished', 'completed');
    await add(await row(busy, 'next', 'queued'));
    await db.$executeRawUnsafe(
      `UPDATE experiments SET updated_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`,
      [stuck, busy],
    );
    const report = await reconciler.reconcile();
    expect(report.stuck).toEqual([stuck]);
    const e = (await repos.experiments.get(stuck))!;
    expect(e.status).toBe('failed');
    expect(e.error).toMatchObject({ code: 'STUCK' });
    expect((e.error as { message: string }).message).toMatch(/no job of attempt 1 is queued or running/);
    expect((await repos.experiments.get(busy))!.status).toBe('running');
  });
});
