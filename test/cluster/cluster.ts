/**
 * A cluster of simulated hosts on one Linux machine. Each host is a network namespace joined by a veth pair to
 * a bridge that lives in a namespace of its own (the switch), with a private address in 10.231.0.0/24 that
 * exists only inside those namespaces: the machine's own interfaces, addresses and routes are never touched.
 * Network namespaces share the filesystem, so every process of a host also runs in a mount namespace of its
 * own (`unshare -m`) where a private, empty tmpfs is mounted over every other host's folder.
 *
 * The test process stays outside: it plays the operator's laptop, reaching a cluster address through a relay
 * that runs in the `ops` host and listens on a Unix socket (see relay.mjs), fronted by a TCP listener on
 * 127.0.0.1 in this process.
 *
 * Cleanup (every process of every namespace killed, the namespaces deleted, the folders removed) runs from
 * `destroy()` and again, synchronously, from a process 'exit' hook; a namespace left by a crashed run (its
 * owner pid, part of its name, no longer alive) is removed when the next cluster starts.
 *
 * The service's pieces on such a cluster (PostgreSQL, s3rver, the API, workers; the hosts of SERVICE_HOSTS) are
 * started by the functions at the end, which the cluster test and bench/cluster-ensemble.ts share.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { migrate } from '@arcal/db';
import pg from 'pg';
import { type ApiClient, apiClient, apiListening, COMPUTE_ENV, serverEntry, workerBin } from '../e2e/harness.ts';
import { type PgServer, startPostgres } from '../support/servers.ts';

const NS_PREFIX = 'arcalc';
const SUBNET = '10.231.0';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout || r.error}`);
  return r.stdout ?? '';
}

const which = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

/** Null when this machine can build a cluster, else why not. */
export function clusterUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces need root';
  for (const p of ['ip', 'unshare', 'mount']) if (!which(p)) return `\`${p}\` is missing`;
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function namespaces(): string[] {
  return sh('ip', ['netns', 'list'], true)
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Kills every process in a network namespace (repeating: a dying parent may still fork). */
function killNamespace(ns: string): void {
  for (let i = 0; i < 20; i++) {
    const pids = sh('ip', ['netns', 'pids', ns], true).split('\n').filter(Boolean).map(Number);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    execFileSync('sleep', ['0.05']);
  }
}

function removeNamespace(ns: string): void {
  killNamespace(ns);
  sh('ip', ['netns', 'del', ns], true);
}

/** Removes the namespaces and folders of earlier runs whose owner process is gone. */
export function removeStale(): string[] {
  const removed: string[] = [];
  for (const ns of namespaces()) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    removeNamespace(ns);
    rmSync(`/tmp/arcal-cluster-${m[1]}`, { recursive: true, force: true });
    removed.push(ns);
  }
  return removed;
}

export interface HostProc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | string | null>;
}

export interface Host {
  name: string;
  ns: string;
  addr: string;
  /** This host's own folder (hidden from every other host). */
  dir: string;
}

export class Cluster {
  readonly id = `${NS_PREFIX}${process.pid}`;
  readonly base = `/tmp/arcal-cluster-${process.pid}`;
  readonly hosts = new Map<string, Host>();
  readonly switchNs = `${this.id}-sw`;
  private procs: HostProc[] = [];
  private forwards: Server[] = [];
  private destroyed = false;
  private readonly exitHook = () => this.destroySync();

  /** Builds the switch and one namespace per host name, in that order of addresses (.2, .3, …). */
  constructor(names: string[]) {
    process.once('exit', this.exitHook);
    rmSync(this.base, { recursive: true, force: true });
    mkdirSync(this.base, { recursive: true });
    sh('ip', ['netns', 'add', this.switchNs]);
    sh('ip', ['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    names.forEach((name, i) => {
      const host: Host = {
        name,
        ns: `${this.id}-${name}`,
        addr: `${SUBNET}.${i + 2}`,
        dir: join(this.base, name),
      };
      mkdirSync(host.dir, { recursive: true, mode: 0o755 });
      sh('ip', ['netns', 'add', host.ns]);
      // created in the switch namespace, one end moved into the host: nothing appears in the machine's own namespace
      sh('ip', [
        '-n',
        this.switchNs,
        'link',
        'add',
        `v${name}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        host.ns,
      ]);
      sh('ip', ['-n', this.switchNs, 'link', 'set', `v${name}`, 'master', 'br0', 'up']);
      sh('ip', ['-n', host.ns, 'addr', 'add', `${host.addr}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
      this.hosts.set(name, host);
    });
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /**
   * The command prefix that runs a program on `name`: its network namespace, then a mount namespace of its own
   * with an empty tmpfs over each other host's folder. Append the program and its arguments.
   */
  prefix(name: string): string[] {
    const h = this.host(name);
    const hide = [...this.hosts.values()].filter((o) => o.name !== name).map((o) => o.dir);
    const script = `${hide.map((d) => `mount -t tmpfs -o size=1m,mode=0755 arcal-hidden '${d}' || exit 97; `).join('')}exec "$@"`;
    return ['ip', 'netns', 'exec', h.ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh'];
  }

  /** Runs a short command on a host and returns its result. */
  exec(name: string, argv: string[]) {
    const [cmd, ...args] = [...this.prefix(name), ...argv];
    return spawnSync(cmd!, args, { encoding: 'utf8', timeout: 30_000 });
  }

  /** Starts a long-running process on a host (killed by `destroy`). */
  spawn(name: string, argv: string[], env: Record<string, string> = {}, label = name): HostProc {
    const [cmd, ...args] = [...this.prefix(name), ...argv];
    const child = spawn(cmd!, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => {
      out += d;
      if (process.env.ARCAL_CLUSTER_VERBOSE) process.stderr.write(`[${label}] ${d}`);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<number | string | null>((r) => child.once('exit', (c, s) => r(c ?? s)));
    const p = { child, output: () => out, exited };
    this.procs.push(p);
    return p;
  }

  /** kill -9 of every process on a host (everything in its network namespace); resolves once none is left. */
  async killAll(name: string): Promise<number> {
    const ns = this.host(name).ns;
    const pids = sh('ip', ['netns', 'pids', ns], true).split('\n').filter(Boolean).map(Number);
    killNamespace(ns);
    for (let i = 0; i < 100 && sh('ip', ['netns', 'pids', ns], true).trim(); i++) await sleep(50);
    return pids.length;
  }

  /** Takes a host off the network (its switch port down: packets to and from it vanish, no reset is sent). */
  cut(name: string): void {
    sh('ip', ['-n', this.switchNs, 'link', 'set', `v${name}`, 'down']);
  }

  restore(name: string): void {
    sh('ip', ['-n', this.switchNs, 'link', 'set', `v${name}`, 'up']);
  }

  /**
   * A TCP port on 127.0.0.1 in this process that reaches `addr:port` of the cluster through a relay on `via`
   * (a host of the cluster; the relay's Unix socket lies in that host's folder, which this process sees).
   */
  async forward(via: string, addr: string, port: number): Promise<number> {
    const sock = join(this.host(via).dir, `relay-${addr}-${port}.sock`);
    const relay = this.spawn(via, [process.execPath, join(import.meta.dirname, 'relay.mjs'), sock, addr, String(port)]);
    await waitFor(relay, 'ready', 30_000, 'the relay');
    const server = createServer((c) => {
      const u = connect(sock);
      c.pipe(u).pipe(c);
      const drop = () => {
        c.destroy();
        u.destroy();
      };
      for (const s of [c, u]) {
        s.on('error', drop);
        s.on('close', drop);
      }
    });
    this.forwards.push(server);
    return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok((server.address() as { port: number }).port)));
  }

  async destroy(): Promise<void> {
    for (const s of this.forwards) s.close();
    this.destroySync();
    await Promise.all(this.procs.map((p) => p.exited));
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const s of this.forwards) s.close();
    for (const h of this.hosts.values()) removeNamespace(h.ns);
    removeNamespace(this.switchNs);
    for (const p of this.procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    if (existsSync(this.base)) rmSync(this.base, { recursive: true, force: true });
    process.removeListener('exit', this.exitHook);
  }
}

/** Resolves once `text` appears in the process's output; rejects if it exits first or after `ms`. */
export async function waitFor(p: HostProc, text: string | RegExp, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  const seen = () => (typeof text === 'string' ? p.output().includes(text) : text.test(p.output()));
  while (!seen()) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`${what} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output().slice(-3000)}`);
    if (Date.now() > end) throw new Error(`${what}: no "${text}" within ${ms} ms:\n${p.output().slice(-3000)}`);
    await sleep(100);
  }
}

/**
 * The service's hosts, in address order: `data` (PostgreSQL, Redis, s3rver), `api`, the worker hosts `w1` and
 * `w2`, and `ops`, where the relays for this process run.
 */
export const SERVICE_HOSTS = ['data', 'api', 'w1', 'w2', 'ops'];
const S3_PORT = 9000;
const API_PORT = 8080;

/** A cluster of `names`, built after the namespaces and folders that crashed earlier runs left are removed. */
export function freshCluster(names: string[]): Cluster {
  const stale = removeStale();
  if (stale.length) console.warn(`cluster: removed namespaces left by an earlier run: ${stale.join(', ')}`);
  return new Cluster(names);
}

export interface ClusterService {
  /** PostgreSQL on `data`, port 5432 (destroy it before the cluster). */
  pg: PgServer;
  /** A client in this process of that database, migrated (through a relay on `ops`). */
  db: pg.Client;
  /** What the API and the workers share: database, Redis, S3 bucket. */
  env: Record<string, string>;
  /** The API on `api`, port 8080. */
  api: HostProc;
  /** The API from this process (through a relay on `ops`). */
  client: ApiClient;
  /** Resolves once the API answers /healthz; rejects if it exits first or after 90 s. */
  listening(): Promise<boolean>;
}

/**
 * The service on a cluster of SERVICE_HOSTS, workers aside: PostgreSQL on `data` open to the cluster's subnet,
 * Redis as `redis` starts it (it returns the environment that names it: REDIS_URL, or the sentinels), s3rver on
 * `data` with `bucket`, and the API on `api` with bootstrap key `key`. On a failure the client and PostgreSQL are
 * closed again; the rest belongs to the cluster.
 */
export async function startClusterService(
  cluster: Cluster,
  opts: { bucket: string; key: string; redis: () => Promise<Record<string, string>> },
): Promise<ClusterService> {
  const data = cluster.host('data');
  const pgServer = await startPostgres({ host: data.addr, port: 5432, wrap: cluster.prefix('data') });
  let db: pg.Client | undefined;
  try {
    // initdb trusts only the loopback addresses; the other hosts connect from the cluster's subnet
    appendFileSync(join(pgServer.dataDir, 'pg_hba.conf'), `host all all ${SUBNET}.0/24 trust\n`);
    await pgServer.stop();
    await pgServer.start();
    const redisEnv = await opts.redis();
    const s3 = cluster.spawn('data', [
      process.execPath,
      join(import.meta.dirname, 's3rver-host.mjs'),
      join(data.dir, 's3'),
      opts.bucket,
      data.addr,
      String(S3_PORT),
    ]);
    await waitFor(s3, 'ready', 30_000, 's3rver');

    const pgPort = await cluster.forward('ops', data.addr, 5432);
    const localDb = `postgresql://postgres@127.0.0.1:${pgPort}/postgres`;
    await migrate(localDb);
    db = new pg.Client({ connectionString: localDb });
    await db.connect();

    const env = {
      DATABASE_URL: `postgresql://postgres@${data.addr}:5432/postgres`,
      ...redisEnv,
      ARCAL_QUEUE_PREFIX: 'arcal',
      ARTIFACT_URL: `s3://${opts.bucket}/cluster`,
      AWS_ENDPOINT_URL: `http://${data.addr}:${S3_PORT}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_S3_FORCE_PATH_STYLE: 'true',
    };
    const host = cluster.host('api');
    const api = cluster.spawn('api', [process.execPath, '--import', 'tsx', serverEntry], {
      ...env,
      ARTIFACT_DIR: join(host.dir, 'artifacts'),
      HOST: host.addr,
      PORT: String(API_PORT),
      ARCAL_BOOTSTRAP_KEY: opts.key,
      LOG_LEVEL: 'warn',
    });
    const base = `http://127.0.0.1:${await cluster.forward('ops', host.addr, API_PORT)}`;
    return {
      pg: pgServer,
      db,
      env,
      api,
      client: apiClient(base, opts.key),
      listening: () => apiListening(api, base, 90_000),
    };
  } catch (e) {
    await db?.end().catch(() => {});
    await pgServer.destroy().catch(() => {});
    throw e;
  }
}

/**
 * Starts `arcal-worker --concurrency 1` on `host` with `env`, COMPUTE_ENV, job, cache and artifact folders in the
 * host's own folder, and `extra` last; `ready` resolves once it reports ready (rejects if it exits or after 90 s).
 */
export function startClusterWorker(
  cluster: Cluster,
  host: string,
  env: Record<string, string>,
  extra: Record<string, string> = {},
): HostProc & { ready: Promise<void> } {
  const dir = cluster.host(host).dir;
  const w = cluster.spawn(
    host,
    [process.execPath, workerBin, '--concurrency', '1'],
    {
      ...env,
      ...COMPUTE_ENV,
      ARTIFACT_DIR: join(dir, 'artifacts'),
      ARCAL_WORK_DIR: join(dir, 'work'),
      ARCAL_CACHE_DIR: join(dir, 'cache'),
      LOG_LEVEL: 'info',
      ...extra,
    },
    host,
  );
  return { ...w, ready: waitFor(w, 'arcal-worker ready', 90_000, `the worker on ${host}`) };
}
