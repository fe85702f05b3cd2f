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
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

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
