/**
 * Named response schemas serialize the answers: they must send what the routes sent before they existed, when
 * the schemas were `unknown` and the bodies went through JSON.stringify (no field dropped, no float rounded, a
 * stored NaN written as null rather than failing the request, rows older than a field still answered).
 */
import { readFileSync } from 'node:fs';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api-wire');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const spec = () =>
  JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8')) as object;

describe.skipIf(!env)('wire format under the named schemas (real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let auth: { authorization: string };
  let projectId: string;
  beforeAll(async () => {
    t = await testApp(env!);
    const k = await t.deps.repos.projects.createApiKey('wire');
    auth = { authorization: `Bearer ${k.key}` };
    projectId = (await t.deps.repos.projects.ensureProject('wire')).id;
  });
  afterAll(() => t?.close());

  it('the estimate goes out exactly as stored, every field of it', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/v1/experiments', headers: auth, payload: spec() });
    expect(r.statusCode).toBe(202);
    const stored = (await t.deps.repos.experiments.get(r.json().id))!.estimate;
    expect(Object.keys(stored as object).length).toBeGreaterThan(3);
    expect(r.json().estimate).toEqual(JSON.parse(JSON.stringify(stored)));
    const one = await t.app.inject({ url: `/v1/experiments/${r.json().id}`, headers: auth });
    expect(one.json().estimate).toEqual(JSON.parse(JSON.stringify(stored)));
  });

  it('an older row (an estimate without memoryBytes, fields this version does not know) is answered as it is', async () => {
    const legacy = { seconds: 12.5, budgetSeconds: 100, legacyNote: 'kept' };
    const { experiment } = await t.deps.repos.experiments.createWithJobs(
      { projectId, name: 'old', spec: { name: 'old' }, estimate: legacy },
      () => [],
    );
    const r = await t.app.inject({ url: `/v1/experiments/${experiment.id}`, headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json().estimate).toEqual(legacy);
    expect(r.json().runs).toEqual([]);
    expect(r.json().report).toBeNull();
  });

  it('epoch metrics: floats kept to the last digit, a NaN loss written as null (as JSON.stringify writes it)', async () => {
    const { experiment } = await t.deps.repos.experiments.createWithJobs(
      { projectId, name: 'nan', spec: { name: 'nan' }, estimate: { seconds: 1 } },
      () => [],
    );
    const [run] = await t.deps.repos.runs.ensureRuns(experiment.id, [7]);
    await t.deps.repos.runs.recordEpoch(run!.id, {
      epoch: 0,
      trainLoss: Number.NaN,
      trainAccuracy: 0.1 + 0.2,
      learningRate: 0.05,
      valLoss: null,
      valEce: 0.125,
      softLabels: { pTrue: [0.9, 0.8] },
      record: {},
      seconds: 1.75,
    });
    const r = await t.app.inject({ url: `/v1/experiments/${experiment.id}/metrics`, headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      id: experiment.id,
      epochs: [
        {
          member: 0,
          epoch: 0,
          trainLoss: null,
          trainAccuracy: 0.30000000000000004,
          learningRate: 0.05,
          valLoss: null,
          valAccuracy: null,
          valEce: 0.125,
          softLabels: { pTrue: [0.9, 0.8] },
          seconds: 1.75,
        },
      ],
    });
  });
});
