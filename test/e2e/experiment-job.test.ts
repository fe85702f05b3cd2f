/**
 * End to end through real processes: the API server and two `arcal-worker`s on a private database and Redis
 * prefix. A one-member experiment runs as a single `train:experiment` job; what the service stores must
 * equal an inline runExperiment of the same spec in this process (same backend, same seeds).
 */
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asMetricRows, comparable, inlineReport, resolve, storedMetricRows } from './compare.ts';
import { followEvents, numericDiff, outcome, type Service, startService } from './harness.ts';

const integration = await integrationEnv('e2e_job');
const env = integration.available ? integration.env : undefined;

/** Small enough for seconds: 4 classes of 8×8 synthetic images, an MLP, two epochs, a robustness split of the test set. */
const rawSpec = {
  name: 'e2e-single',
  seed: 11,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 256, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 64, optimizer: 'sgd', learningRate: 0.05 },
  method: { kind: 'vanilla' },
  ensemble: { members: 1, mode: 'independent' },
  evaluation: { bins: 10, robustnessSubsets: 2 },
};

describe.skipIf(!env)('service end to end: one train:experiment job (API + 2 workers + PostgreSQL + Redis)', () => {
  let service: Service;

  beforeAll(async () => {
    service = await startService(env!, { workers: 2 });
  });

  afterAll(async () => {
    await service?.stop();
    await env?.cleanup();
  });

  it('submit → worker runs it → epochs, report and artifacts in Postgres equal an inline run; SSE ends', async () => {
    const inline = inlineReport(resolve(rawSpec));
    const submitted = await service.request('POST', '/v1/experiments', rawSpec);
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;

    const events = await followEvents(service, id, 120_000);
    expect(events[0]!.event).toBe('snapshot');
    expect(outcome(events)).toBe('succeeded');
    const liveEpochs = events.filter((e) => e.event === 'epoch').map((e) => `${e.data.member}/${e.data.epoch}`);
    expect(liveEpochs).toEqual(['0/1', '0/2']);

    const expected = await inline;
    const view = await service.request('GET', `/v1/experiments/${id}`);
    expect(view.body.status).toBe('succeeded');
    expect(numericDiff(comparable(view.body.report), comparable(expected), 1e-6)).toEqual([]);
    expect(view.body.runs.find((r: any) => r.member === 0).final).toEqual(view.body.report.members[0].final);

    const metrics = await service.request('GET', `/v1/experiments/${id}/metrics`);
    expect(numericDiff(storedMetricRows(metrics.body.epochs), asMetricRows(expected), 1e-6)).toEqual([]);

    const artifacts = await service.request('GET', `/v1/experiments/${id}/artifacts`);
    const names = artifacts.body.items.map((a: any) => a.name);
    expect(names).toEqual(
      expect.arrayContaining(['report.json', 'members_m0_checkpoint.json', 'members_m0_checkpoint.bin']),
    );
    const report = await fetch(`${service.base}/v1/experiments/${id}/artifacts/report.json`, {
      headers: { authorization: `Bearer ${service.key}` },
    });
    expect(((await report.json()) as any).final.accuracy).toBe(view.body.report.final.accuracy);
  }, 240_000);
});
