/**
 * A Redis Sentinel group on one host of a cluster (cluster.ts): a primary, a replica of it and three sentinels
 * (Debian's `redis-sentinel`), every process in the host's namespaces, so the others reach them only by
 * address. The sentinels declare the primary down after `downAfterMs` without an answer; two of three must
 * agree before one of them promotes the replica.
 *
 * Its processes belong to the cluster: `Cluster.destroy` kills them with the rest of the host, also after a
 * failed test.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Cluster, type HostProc, waitFor } from './cluster.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Null when `redis-sentinel` and `redis-cli` are installed, else why not. */
export function sentinelUnavailable(): string | null {
  for (const p of ['redis-sentinel', 'redis-server', 'redis-cli'])
    if (spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0)
      return `\`${p}\` is missing (apt-get install redis-sentinel)`;
  return null;
}

export interface SentinelGroupOptions {
  /** The master group's name [arcal]. */
  name?: string;
  primaryPort?: number;
  replicaPort?: number;
  /** The three sentinels' ports [26379, 26380, 26381]. */
  sentinelPorts?: number[];
  /** A primary that answers no PING for this long is subjectively down [1000 ms]. */
  downAfterMs?: number;
}

export interface SentinelGroup {
  name: string;
  host: string;
  addr: string;
  primaryPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  /** What API and workers are given: REDIS_SENTINELS and REDIS_SENTINEL_NAME. */
  env: Record<string, string>;
  /** `redis-cli -p <port> args…` on the group's host; its output (throws when it fails). */
  cli(port: number, ...args: string[]): string;
  /** The process id of the server on `port` (from its INFO; namespaces here share the machine's pids). */
  pid(port: number): number;
  /** The primary's port as each sentinel names it (`SENTINEL get-master-addr-by-name`). */
  primaryPorts(): number[];
  procs: HostProc[];
}

export async function startSentinelGroup(
  cluster: Cluster,
  hostName: string,
  opts: SentinelGroupOptions = {},
): Promise<SentinelGroup> {
  const name = opts.name ?? 'arcal';
  const primaryPort = opts.primaryPort ?? 6379;
  const replicaPort = opts.replicaPort ?? 6380;
  const sentinelPorts = opts.sentinelPorts ?? [26379, 26380, 26381];
  const downAfterMs = opts.downAfterMs ?? 1000;
  const host = cluster.host(hostName);
  const addr = host.addr;
  const procs: HostProc[] = [];

  const cli = (port: number, ...args: string[]) => {
    const r = cluster.exec(hostName, ['redis-cli', '-h', addr, '-p', String(port), ...args]);
    if (r.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${r.stderr || r.stdout}`);
    return r.stdout;
  };

  const server = async (port: number, extra: string[]) => {
    const dir = join(host.dir, `redis-${port}`);
    mkdirSync(dir, { recursive: true });
    const p = cluster.spawn(
      hostName,
      [
        'redis-server',
        '--port',
        String(port),
        '--bind',
        addr,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--maxmemory-policy',
        'noeviction',
        '--protected-mode',
        'no',
        ...extra,
      ],
      {},
      `redis:${port}`,
    );
    procs.push(p);
    await waitFor(p, 'Ready to accept connections', 30_000, `redis-server on ${port}`);
  };
  await server(primaryPort, []);
  await server(replicaPort, ['--replicaof', addr, String(primaryPort)]);

  for (const port of sentinelPorts) {
    const dir = join(host.dir, `sentinel-${port}`);
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'sentinel.conf');
    // the sentinel rewrites this file as it learns the group (replicas, other sentinels, the current epoch)
    writeFileSync(
      conf,
      [
        `port ${port}`,
        `bind ${addr}`,
        `dir ${dir}`,
        'protected-mode no',
        `sentinel monitor ${name} ${addr} ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const p = cluster.spawn(hostName, ['redis-sentinel', conf], {}, `sentinel:${port}`);
    procs.push(p);
    await waitFor(p, /Sentinel ID is|Running mode=sentinel/, 30_000, `redis-sentinel on ${port}`);
  }

  const field = (reply: string, key: string) => {
    const lines = reply.split('\n').map((l) => l.trim());
    const i = lines.indexOf(key);
    return i >= 0 ? lines[i + 1] : undefined;
  };
  // Each sentinel learns the replica from the primary's INFO (every 10 s) and the other sentinels from their
  // hello messages (every 2 s): only then can two of them agree and promote the replica.
  const end = Date.now() + 60_000;
  for (;;) {
    const ready = sentinelPorts.every((port) => {
      const m = cli(port, 'SENTINEL', 'MASTER', name);
      return Number(field(m, 'num-slaves')) >= 1 && Number(field(m, 'num-other-sentinels')) >= 2;
    });
    if (ready) break;
    if (Date.now() > end) throw new Error(`the sentinels did not discover the group within 60 s`);
    await sleep(250);
  }

  return {
    name,
    host: hostName,
    addr,
    primaryPort,
    replicaPort,
    sentinelPorts,
    env: { REDIS_SENTINELS: sentinelPorts.map((p) => `${addr}:${p}`).join(','), REDIS_SENTINEL_NAME: name },
    cli,
    pid: (port) => Number(/process_id:(\d+)/.exec(cli(port, 'INFO', 'server'))?.[1] ?? Number.NaN),
    primaryPorts: () =>
      sentinelPorts.map((port) => Number(cli(port, 'SENTINEL', 'get-master-addr-by-name', name).split('\n')[1])),
    procs,
  };
}
