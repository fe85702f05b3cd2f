/**
 * Cross-process harness for the service's end-to-end tests: the API server and `arcal-worker`s as child
 * processes on this file's own database and Redis prefix (see @arcal/db/testing), an HTTP client with
 * a bootstrap key, an SSE reader, and the inline run of the same spec for comparison.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IntegrationEnv } from '@arcal/db/testing';
import { freePort } from '../support/servers.ts';

export { freePort };

const root = fileURLToPath(new URL('../../', import.meta.url));
export const serverEntry = join(root, 'apps/api/src/server.ts');
export const workerBin = join(root, 'workers/bin/arcal-worker.js');

/** Settings both sides of a comparison share: same backend, one thread (summation order stays fixed). */
export const COMPUTE_ENV = { ARCAL_BACKEND: 'wasm', ARCAL_THREADS: '1' } as const;

export const until = async <T>(
  f: () => Promise<T | undefined | null | false>,
  ms: number,
  what = 'condition',
): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string | null>;
}

/** A node child process whose output is kept (and echoed with ARCAL_E2E_VERBOSE=1). */
export function spawnNode(args: string[], env: Record<string, string>, name: string): Proc {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d;
    if (process.env.ARCAL_E2E_VERBOSE) process.stderr.write(`[${name}] ${d}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string | null>((r) => child.once('exit', (code, signal) => r(code ?? signal)));
  return { child, output: () => out, exited };
}

/** Environment of a worker process on `env`'s database and Redis prefix (short lock and stall intervals). */
export function workerEnvOf(
  env: IntegrationEnv,
  artifactDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    ARCAL_QUEUE_PREFIX: env.prefix,
    ARTIFACT_DIR: artifactDir,
    ...COMPUTE_ENV,
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_SECONDS: '5',
    ARCAL_JOB_LOCK_MS: '4000',
    ARCAL_STALLED_INTERVAL_MS: '1500',
    ...extra,
  };
}

/** Starts one `arcal-worker --concurrency 1 [args]` process; `ready` resolves once it reports ready (rejects if it exits). */
export function startWorker(
  workerEnv: Record<string, string>,
  name = 'worker',
  args: string[] = [],
): Proc & { ready: Promise<void> } {
  const w = spawnNode([workerBin, '--concurrency', '1', ...args], workerEnv, name);
  const ready = until(
    async () =>
      w.output().includes('arcal-worker ready') ||
      (w.child.exitCode !== null && Promise.reject(new Error(`worker exited:\n${w.output()}`))),
    90_000,
    'a worker to start',
  ).then(() => undefined);
  return { ...w, ready };
}

/** Workers started one by one on the same settings, named worker0, worker1, …; `addWorker` resolves once it is ready. */
export function workerPool(workerEnv: Record<string, string>): { workers: Proc[]; addWorker(): Promise<Proc> } {
  const workers: Proc[] = [];
  const addWorker = async () => {
    const w = startWorker(workerEnv, `worker${workers.length}`);
    workers.push(w);
    await w.ready;
    return w;
  };
  return { workers, addWorker };
}

/** The API server on 127.0.0.1:`port` with bootstrap key `key` (`extra` last, so it may override any of these). */
export function spawnApi(env: Record<string, string>, port: number, key: string, extra: Record<string, string> = {}) {
  return spawnNode(
    ['--import', 'tsx', serverEntry],
    { ...env, HOST: '127.0.0.1', PORT: String(port), ARCAL_BOOTSTRAP_KEY: key, ...extra },
    'api',
  );
}

/** Resolves once the API answers /healthz at `base`; rejects if its process exits first or after `ms`. */
export function apiListening(api: Pick<Proc, 'child' | 'output'>, base: string, ms: number): Promise<boolean> {
  return until(
    async () => {
      if (api.child.exitCode !== null) throw new Error(`the API exited:\n${api.output()}`);
      return fetch(`${base}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
    },
    ms,
    'the API to listen',
  );
}

/** SIGKILL to each process still running; resolves once every one has exited. */
export async function killProcs(procs: Proc[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/** An HTTP client of the API at `base` that authenticates with `key`. */
export interface ApiClient {
  base: string;
  key: string;
  request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export function apiClient(base: string, key: string): ApiClient {
  return {
    base,
    key,
    async request(method, path, body) {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

export interface Service extends ApiClient {
  artifactDir: string;
  api: Proc;
  workers: Proc[];
  /** Starts one more worker (same settings). */
  addWorker(): Promise<Proc>;
  stop(): Promise<void>;
}

/**
 * Starts the API and `workers` worker processes. Workers get short BullMQ lock and stall intervals so
 * that a killed worker's job is handed to another within seconds.
 */
export async function startService(
  env: IntegrationEnv,
  opts: { workers: number; workerEnv?: Record<string, string>; apiEnv?: Record<string, string> },
): Promise<Service> {
  const port = await freePort();
  const key = `arcal_e2e_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const artifactDir = mkdtempSync(join(tmpdir(), 'arcal-e2e-'));
  const common = {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    ARCAL_QUEUE_PREFIX: env.prefix,
    ARTIFACT_DIR: artifactDir,
    LOG_LEVEL: 'warn',
  };
  const api = spawnApi(common, port, key, opts.apiEnv);
  const { workers, addWorker } = workerPool(workerEnvOf(env, artifactDir, opts.workerEnv));
  const base = `http://127.0.0.1:${port}`;
  await Promise.all([apiListening(api, base, 90_000), ...Array.from({ length: opts.workers }, () => addWorker())]);
  return {
    ...apiClient(base, key),
    artifactDir,
    api,
    workers,
    addWorker,
    stop: () => killProcs([api, ...workers]),
  };
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Reads the experiment's event stream until `end` (or the timeout); returns every event in order. */
export async function followEvents(
  service: Pick<ApiClient, 'base' | 'key'>,
  id: string,
  timeoutMs: number,
  onEvent?: (e: SseEvent) => void,
): Promise<SseEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const r = await fetch(`${service.base}/v1/experiments/${id}/events`, {
      headers: { authorization: `Bearer ${service.key}` },
      signal: ac.signal,
    });
    if (!r.ok || !r.body) throw new Error(`events: HTTP ${r.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue;
        const e = { event, data: JSON.parse(data) };
        events.push(e);
        onEvent?.(e);
        if (event === 'end') return events;
      }
    }
    throw new Error('the event stream closed without an end event');
  } catch (err) {
    if (ac.signal.aborted)
      throw new Error(`no end event within ${timeoutMs} ms; got: ${events.map((e) => e.event).join(', ')}`);
    throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** The metrics a comparison looks at: every epoch's training and validation numbers, keyed member/epoch. */
export function epochKey(member: number | 'ensemble', epoch: number): string {
  return `${member === 'ensemble' ? -2 : member}/${epoch}`;
}

/** Asserts |a − b| ≤ tol elementwise over the numeric leaves of two JSON values; returns the mismatches. */
export function numericDiff(a: unknown, b: unknown, tol: number, path = ''): string[] {
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= tol || (Number.isNaN(a) && Number.isNaN(b)) ? [] : [`${path}: ${a} vs ${b}`];
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path}: length ${a.length} vs ${b.length}`];
    return a.flatMap((v, i) => numericDiff(v, b[i], tol, `${path}[${i}]`));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => numericDiff((a as any)[k], (b as any)[k], tol, `${path}.${k}`));
  }
  return a === b ? [] : [`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
}

/** The final status of an event list, with the failure reason when it failed (for readable assertions). */
export function outcome(events: SseEvent[]): string {
  const end = events.at(-1);
  if (end?.event !== 'end') return `no end (${events.map((e) => e.event).join(', ')})`;
  const failed = events.find((e) => e.event === 'status' && e.data.error);
  return end.data.status === 'succeeded' || !failed
    ? end.data.status
    : `${end.data.status}: ${JSON.stringify(failed.data.error)}`;
}
