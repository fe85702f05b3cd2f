/**
 * Load generator for bench/api-throughput.ts, run as its own process so that its CPU is not counted as the
 * server's: POSTs one body C at a time over keep-alive connections (node:http, C sockets).
 *
 *   node --import tsx bench/http-load.ts <url> <bearer key> <body file> <requests> <concurrency> <warm-up>
 *
 * Sends the warm-up requests, prints `ready`, waits for a line on stdin, sends the measured requests and prints
 * one JSON line: { seconds, cpuSeconds, failures, statuses, latenciesMs }.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';

const [url, key, bodyFile, n, c, w] = process.argv.slice(2);
if (!url || !key || !bodyFile) {
  console.error('usage: http-load.ts <url> <bearer key> <body file> <requests> <concurrency> <warm-up>');
  process.exit(2);
}
const N = Number(n ?? 1000);
const C = Number(c ?? 16);
const WARM = Number(w ?? 0);
const body = readFileSync(bodyFile);
const agent = new Agent({ keepAlive: true, maxSockets: C });
const target = new URL(url);

const post = () =>
  new Promise<number>((resolve, reject) => {
    const r = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });

async function run(total: number, latencies?: number[], statuses?: Map<number, number>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < total) {
        next++;
        const t = performance.now();
        const status = await post().catch(() => 0);
        latencies?.push(performance.now() - t);
        statuses?.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
}

await run(WARM);
console.log('ready');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
const latencies: number[] = [];
const statuses = new Map<number, number>();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await run(N, latencies, statuses);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    failures: N - (statuses.get(202) ?? 0),
    statuses: Object.fromEntries(statuses),
    latenciesMs: latencies,
  }),
);
lines.close();
agent.destroy();
