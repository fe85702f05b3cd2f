import { readFileSync } from 'node:fs';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api-metrics');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());
const spec = () =>
  JSON.parse(readFileSync(new URL('./fixtures/vanilla-synthetic.json', import.meta.url), 'utf8')) as {
    name: string;
  };

/** Sample lines of one metric: `name{labels} value` → [{labels, value}]. */
function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
const one = (text: string, name: string, labels: Record<string, string>) =>
  samples(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe.skipIf(!env)('/metrics (prom-client, real PostgreSQL + Redis)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const scrape = async () => {
    const r = await t.app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    return r.body;
  };
  beforeAll(async () => {
    t = await testApp(env!);
  });
  afterAll(() => t?.close());

  it('has the process and Node.js default metrics', async () => {
    const body = await scrape();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(body, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(one(body, 'process_resident_memory_bytes', {})).toBeGreaterThan(0);
  });

  it('counts each request once in the latency histogram, and the counts never fall between scrapes', async () => {
    const route = { method: 'GET', route: '/healthz', status: '200' };
    const before = one(await scrape(), 'arcal_http_request_duration_seconds_count', route) ?? 0;
    for (let i = 0; i < 3; i++) await t.app.inject({ url: '/healthz' });
    const after = await scrape();
    expect(one(after, 'arcal_http_request_duration_seconds_count', route)).toBe(before + 3);
    expect(one(after, 'arcal_http_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(before + 3);
    // cumulative buckets: each le holds at least as many as the one below it
    const buckets = samples(after, 'arcal_http_request_duration_seconds_bucket').filter(
      (s) => s.labels.route === '/healthz' && s.labels.status === '200',
    );
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    const again = await scrape();
    expect(one(again, 'arcal_http_request_duration_seconds_count', route)).toBe(before + 3);
  });

  it('leaks nothing per project: no project, key, experiment id or raw URL in any label', async () => {
    const a = await t.deps.repos.projects.createApiKey('metrics-secret-project-a');
    const b = await t.deps.repos.projects.createApiKey('metrics-secret-project-b');
    const ids: string[] = [];
    const keys = [a.key, b.key, b.key];
    for (const key of keys) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: { authorization: `Bearer ${key}` },
        payload: { ...spec(), name: 'metrics-secret-experiment-name' },
      });
      expect(r.statusCode).toBe(202);
      ids.push(r.json().id);
    }
    for (const [i, id] of ids.entries())
      await t.app.inject({ url: `/v1/experiments/${id}`, headers: { authorization: `Bearer ${keys[i]}` } });
    await t.app.inject({ url: '/no-such-route/metrics-secret-path' });
    const body = await scrape();
    const projects = await t.deps.db.project.findMany({ select: { id: true, name: true } });
    const secrets = ['metrics-secret', a.key, b.key, ...ids, ...projects.flatMap((p) => [p.id, p.name])];
    for (const s of secrets) expect(body.includes(s), `metrics text contains ${s}`).toBe(false);
    const labelNames = new Set(
      [...body.matchAll(/^[a-zA-Z_:][\w:]*\{(.*)\} /gm)].flatMap((m) =>
        [...m[1].matchAll(/(\w+)="/g)].map((l) => l[1]),
      ),
    );
    for (const l of labelNames)
      expect(['project', 'projectId', 'experiment', 'experimentId', 'key', 'url']).not.toContain(l);
    // what there is, is the total over both projects: 3 queued experiments
    expect(one(body, 'arcal_experiments', { status: 'queued' })).toBe(3);
    expect(
      one(body, 'arcal_http_request_duration_seconds_count', { route: '/v1/experiments/:id', status: '200' }),
    ).toBe(3);
    expect(one(body, 'arcal_http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).toBe(1);
  });

  it('counts open event streams where they open and close', async () => {
    const { key } = await t.deps.repos.projects.createApiKey('metrics-sse');
    const submitted = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { authorization: `Bearer ${key}` },
      payload: spec(),
    });
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const before = one(await scrape(), 'arcal_sse_streams', {});
    expect(before).toBe(0);
    const ac = new AbortController();
    const res = await fetch(`${base}/v1/experiments/${submitted.json().id}/events`, {
      headers: { authorization: `Bearer ${key}` },
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // the snapshot: the stream is registered by then
    expect(one(await scrape(), 'arcal_sse_streams', {})).toBe(1);
    ac.abort();
    await reader.read().catch(() => {});
    while (one(await scrape(), 'arcal_sse_streams', {}) !== 0) await new Promise((r) => setTimeout(r, 50));
  });
});
