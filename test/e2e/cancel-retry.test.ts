/**
 * End to end through real processes (API + 2 workers + PostgreSQL + Redis): cancelling an experiment whose
 * member jobs are running and queued stops all of them within seconds; retrying it resumes the members from
 * their checkpoints and ends with exactly what an inline run of the spec gives.
 */
import { integrationEnv } from '@arcal/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asMetricRows, comparable, inlineReport, resolve, storedMetricRows } from './compare.ts';
import { followEvents, numericDiff, outcome, type Service, startService, until } from './harness.ts';

const integration = await integrationEnv('e2e_cancel');
const env = integration.available ? integration.env : undefined;

/** Three members on two single-slot workers: two train while the third waits. Each member takes seconds. */
const rawSpec = {
  name: 'e2e-cancel-retry',
  seed: 21,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 512, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 8, batchSize: 16, optimizer: 'sgd', learningRate: 0.05 },
  method: { kind: 'vanilla' },
  ensemble: { members: 3, mode: 'independent' },
  evaluation: { bins: 10, robustnessSubsets: 0 },
};

/** Seconds within which a cancel must have stopped every running job (generous for a loaded machine). */
const STOP_WITHIN_MS = 10_000;

async function query(sql: string, args: unknown[]) {
  const c = new pg.Client({ connectionString: env!.databaseUrl });
  await c.connect();
  try {
    return (await c.query(sql, args)).rows;
  } finally {
    await c.end();
  }
}

describe.skipIf(!env)('service end to end: cancel and retry (API + 2 workers + PostgreSQL + Redis)', () => {
  let service: Service;

  beforeAll(async () => {
    service = await startService(env!, { workers: 2 });
  });

  afterAll(async () => {
    await service?.stop();
    await env?.cleanup();
  });

  it('cancel stops running and queued member jobs within seconds; retry resumes from checkpoints and equals inline', async () => {
    const inline = inlineReport(resolve(rawSpec));
    const submitted = await service.request('POST', '/v1/experiments', rawSpec);
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const logs = () => service.workers.map((w) => w.output()).join('');
    const activeMembers = () =>
      [...logs().matchAll(new RegExp(`"job":"(${id}-m\\d)","name":"member","msg":"active"`, 'g'))].map((m) => m[1]!);

    // Cancel as soon as a member has finished its first epoch.
    let cancelled: Promise<{ status: number; body: any }> | undefined;
    let cancelAt = 0;
    let runningAtCancel: string[] = [];
    let firstMember = -1;
    const events = await followEvents(service, id, 180_000, (e) => {
      if (e.event === 'epoch' && !cancelled) {
        runningAtCancel = activeMembers();
        firstMember = e.data.member;
        cancelAt = Date.now();
        cancelled = service.request('POST', `/v1/experiments/${id}/cancel`);
      }
    });
    expect(outcome(events)).toBe('cancelled');
    const c = await cancelled!;
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('cancelled');
    expect(runningAtCancel.length).toBeGreaterThan(0);

    // Every job that was running is aborted (fails as unrecoverable "cancelled") within seconds.
    for (const job of runningAtCancel) {
      const stopped = new RegExp(`"job":"${job}",[^}]*"final":true,"err":"cancelled"`);
      await until(async () => stopped.test(logs()), STOP_WITHIN_MS, `${job} to stop`);
    }
    const stoppedAfterMs = Date.now() - cancelAt;
    expect(stoppedAfterMs).toBeLessThan(STOP_WITHIN_MS);
    // Nothing runs or waits any more, and no training continues.
    const progress = async () =>
      (
        await query(
          'select count(*)::int as n from epoch_metrics m join runs r on r.id = m.run_id where r.experiment_id = $1',
          [id],
        )
      )[0].n;
    const before = await progress();
    await new Promise((r) => setTimeout(r, 2500));
    expect(await progress()).toBe(before);
    expect(before).toBeLessThan(3 * 8);
    const open = await query(
      `select id, state from jobs where experiment_id = $1 and state in ('pending', 'queued', 'active')`,
      [id],
    );
    expect(open).toEqual([]);
    const started = new Set(activeMembers());
    const queuedAtCancel = [0, 1, 2].map((m) => `${id}-m${m}`).filter((j) => !runningAtCancel.includes(j));
    for (const j of queuedAtCancel)
      expect(started.has(j), `${j} was queued at the cancel and must never start`).toBe(false);
    const states = await query(`select id, state from jobs where experiment_id = $1 and name = 'member' order by id`, [
      id,
    ]);
    expect(states.every((s) => s.state === 'cancelled')).toBe(true);

    // Retry: a new attempt resumes the members from their checkpoints.
    const retried = await service.request('POST', `/v1/experiments/${id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body.attempt).toBe(2);
    const again = await followEvents(service, id, 180_000);
    expect(outcome(again)).toBe('succeeded');
    const resumed = await query(
      `select id, result from jobs where experiment_id = $1 and name = 'member' and id like '%-r2' order by id`,
      [id],
    );
    expect(resumed).toHaveLength(3);
    const resumedFrom = resumed.map((r) => r.result.resumedFrom as number);
    // The member whose first epoch triggered the cancel had a checkpoint to resume from.
    expect(resumedFrom[firstMember]).toBeGreaterThan(0);

    const expected = await inline;
    const view = await service.request('GET', `/v1/experiments/${id}`);
    expect(numericDiff(comparable(view.body.report), comparable(expected), 1e-6)).toEqual([]);
    const metrics = await service.request('GET', `/v1/experiments/${id}/metrics`);
    expect(numericDiff(storedMetricRows(metrics.body.epochs), asMetricRows(expected), 1e-6)).toEqual([]);
  }, 420_000);
});
