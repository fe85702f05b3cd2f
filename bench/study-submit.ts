/**
 * Study submission latency, printed on stdout as one JSON object (last line): POST /v1/studies through the real
 * API (app.inject: routing, authentication, validation of every grid point, estimates, the database writes and
 * the enqueue of every start job) for studies of 8, 64 and 256 experiments (the base spec of
 * apps/api/test/fixtures/vanilla-synthetic.json varied over `seed`), one at a time; median and p90 latency per
 * study and the median per experiment, after a warm-up of each size. Uses a fresh database and Redis prefix
 * (dropped afterwards); nothing consumes the queued jobs.
 *
 *   npx tsx bench/study-submit.ts [repeats=20] [warm-up=3] [sizes=8,64,256]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { benchApi, gitCommit } from './lib/api-app.ts';

const REPEATS = Number(process.argv[2] ?? 20);
const WARM = Number(process.argv[3] ?? 3);
const SIZES = (process.argv[4] ?? '8,64,256').split(',').map(Number);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

const commit = gitCommit();
const { env, deps, app } = await benchApi('bench_studies', { budgetSeconds: 1e12 });
const { key } = await deps.repos.projects.createApiKey('bench');
const base = JSON.parse(
  readFileSync(new URL('../apps/api/test/fixtures/vanilla-synthetic.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const loadAtStart = loadavg().map((x) => +x.toFixed(2));

const submit = async (size: number, i: number): Promise<number> => {
  const payload = { name: `bench-${size}-${i}`, base, vary: { seed: Array.from({ length: size }, (_, s) => s + 1) } };
  const t = performance.now();
  const r = await app.inject({
    method: 'POST',
    url: '/v1/studies',
    headers: { authorization: `Bearer ${key}` },
    payload,
  });
  const ms = performance.now() - t;
  if (r.statusCode !== 202) throw new Error(`study of ${size}: ${r.statusCode} ${r.body}`);
  return ms;
};

const results: Record<string, unknown> = {};
for (const size of SIZES) {
  for (let i = 0; i < WARM; i++) await submit(size, -1 - i);
  const ms: number[] = [];
  for (let i = 0; i < REPEATS; i++) ms.push(await submit(size, i));
  const s = ms.sort((a, b) => a - b);
  const p50 = quantile(s, 0.5);
  results[String(size)] = {
    studies: REPEATS,
    p50Ms: +p50.toFixed(2),
    p90Ms: +quantile(s, 0.9).toFixed(2),
    minMs: +s[0]!.toFixed(2),
    perExperimentP50Ms: +(p50 / size).toFixed(3),
  };
  console.error(`${size} experiments: p50 ${p50.toFixed(1)} ms per study`);
}

console.log(
  JSON.stringify({
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpus: cpus().length,
    loadavg: { start: loadAtStart, end: loadavg().map((x) => +x.toFixed(2)) },
    repeats: REPEATS,
    warmUp: WARM,
    bySize: results,
  }),
);
await app.close();
await deps.close();
await env.cleanup();
