/**
 * PostgreSQL and Redis servers of a test's own, on free ports, which a test may stop, start again or kill
 * without disturbing the shared servers on 5432 and 6379 (fault and cluster tests). PostgreSQL refuses to
 * run as root, so when this process is root its `initdb` and `pg_ctl` run as the `postgres` user
 * (`runuser`). Every server started here is stopped and its folder deleted when the process exits, also
 * after a failed test.
 *
 * Redis keeps its data across a stop (append-only file, fsync on every write), as a production Redis for
 * BullMQ must; PostgreSQL runs with fsync off (its data survives a clean stop and a kill of the server
 * processes; only a crash of the machine could lose it).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cleanups run synchronously at exit (an `exit` handler cannot wait). */
const atExit = new Set<() => void>();
let hooked = false;
function onExit(f: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const g of atExit) {
        try {
          g();
        } catch {
          // best effort: the other servers must still be stopped
        }
      }
    });
  }
  atExit.add(f);
  return () => atExit.delete(f);
}

/** Finds a program in PATH or PostgreSQL's versioned bin folders (Debian keeps initdb out of PATH). */
function pgBin(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, name))) return join(dir, name);
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = execFileSync('ls', [base], { encoding: 'utf8' }).split('\n').filter(Boolean).sort().reverse();
    for (const v of versions) if (existsSync(join(base, v, 'bin', name))) return join(base, v, 'bin', name);
  }
  throw new Error(`${name} not found (install PostgreSQL's server package)`);
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL program as the `postgres` user when this process is root, after `wrap` (see ServerOptions). */
function asPostgres(program: string, args: string[], opts: { allowFail?: boolean; wrap?: string[] } = {}): string {
  const inner = isRoot() ? ['runuser', '-u', 'postgres', '--', program, ...args] : [program, ...args];
  const [cmd, ...argv] = [...(opts.wrap ?? []), ...inner];
  const r = spawnSync(cmd!, argv, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${program} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return `${r.stdout}${r.stderr}`;
}

export interface PgServer {
  host: string;
  port: number;
  /** `postgresql://postgres@host:port/postgres` (trust authentication). */
  url: string;
  dataDir: string;
  /** Fast shutdown (clients are disconnected); resolves once the server is down. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILL to the postmaster and its backends (a crash); `start` recovers from the WAL. */
  kill(): Promise<void>;
  running(): boolean;
  /** Stops it for good and deletes its folder. */
  destroy(): Promise<void>;
}

export interface ServerOptions {
  /** Address to listen on [127.0.0.1]. */
  host?: string;
  /** Port [a free one on 127.0.0.1; give one when `host` is not reachable from this process's namespace]. */
  port?: number;
  /** A command prefix the server's programs run under, e.g. `['ip', 'netns', 'exec', 'db-host']`. */
  wrap?: string[];
}

/** Creates a cluster with `initdb` in a fresh folder and starts it on `port` (a free one by default). */
export async function startPostgres(opts: ServerOptions = {}): Promise<PgServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const wrap = opts.wrap;
  const dir = mkdtempSync(join(tmpdir(), 'arcal-pg-'));
  const dataDir = join(dir, 'data');
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  asPostgres(pgBin('initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const pgCtl = pgBin('pg_ctl');
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=${host}`,
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  let up = false;
  const start = async () => {
    asPostgres(pgCtl, ['-D', dataDir, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], {
      wrap,
    });
    up = true;
  };
  const stopNow = (mode: 'fast' | 'immediate') => {
    asPostgres(pgCtl, ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], { allowFail: true, wrap });
    up = false;
  };
  const forget = onExit(() => {
    stopNow('immediate');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    host,
    port,
    url: `postgresql://postgres@${host}:${port}/postgres`,
    dataDir,
    async stop() {
      stopNow('fast');
    },
    start,
    async kill() {
      const pidFile = join(dataDir, 'postmaster.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
      if (pid > 0) {
        // the backends first, so that none outlives its postmaster and holds the port
        spawnSync('pkill', ['-KILL', '-P', String(pid)]);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
      }
      up = false;
    },
    running: () => up,
    async destroy() {
      stopNow('fast');
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** SIGTERM (Redis flushes its append-only file and exits); resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGKILL. */
  kill(): Promise<void>;
  running(): boolean;
  destroy(): Promise<void>;
}

/** Starts `redis-server` on `port` (a free one by default) with `maxmemory-policy noeviction`, as BullMQ needs. */
export async function startRedis(opts: ServerOptions = {}): Promise<RedisServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const wrap = opts.wrap ?? [];
  const dir = mkdtempSync(join(tmpdir(), 'arcal-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  const start = async () => {
    log = '';
    const c = spawn(
      wrap[0] ?? 'redis-server',
      [
        ...(wrap.length ? [...wrap.slice(1), 'redis-server'] : []),
        '--port',
        String(port),
        '--bind',
        host,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
        '--protected-mode',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    c.stdout!.on('data', (d) => {
      log += d;
    });
    c.stderr!.on('data', (d) => {
      log += d;
    });
    exited = new Promise((r) => c.once('exit', () => r()));
    const end = Date.now() + 30_000;
    while (!log.includes('Ready to accept connections')) {
      if (c.exitCode !== null) throw new Error(`redis-server exited: ${log}`);
      if (Date.now() > end) throw new Error(`redis-server did not start within 30 s: ${log}`);
      await sleep(50);
    }
  };
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(sig);
    await exited;
  };
  const forget = onExit(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    stop: () => signal('SIGTERM'),
    start,
    kill: () => signal('SIGKILL'),
    running: () => Boolean(child && child.exitCode === null && child.signalCode === null),
    async destroy() {
      await signal('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** Whether this machine can run the servers above (the programs exist; as root, the `postgres` user too). */
export function serversAvailable(): string | null {
  try {
    pgBin('initdb');
    pgBin('pg_ctl');
  } catch (e) {
    return (e as Error).message;
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server not found';
  if (isRoot() && spawnSync('id', ['-u', 'postgres']).status !== 0)
    return 'running as root and there is no postgres user for initdb';
  return null;
}
