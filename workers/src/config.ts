/**
 * Worker configuration: command line (`--queues`, `--concurrency`, `--devices`) plus environment, parsed once at the
 * entry point. Sandboxed processors are separate processes: they read the same variables once at their
 * own entry (`sandboxConfig`).
 */
import { homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ArcalError } from '@arcal/contracts';
import { int, type ParsedArgs, parseArgs, str } from '@arcal/contracts/args';
import { QUEUE_NAMES, type QueueName, type RedisSentinelConfig, redisConfigFromEnv } from '@arcal/db';
import { type ArtifactConfig, artifactConfigFromEnv, type CacheConfig, cacheConfigFromEnv } from '@arcal/storage';

export interface WorkerConfig {
  queues: QueueName[];
  /** Jobs at once per queue, and with `devices` per queue per device. */
  concurrency: number;
  /**
   * Accelerators to place sandboxed compute processes on (`--devices 0,1` or ARCAL_DEVICES): each gets its own
   * processes with `CUDA_VISIBLE_DEVICES` set to it. Unset: the processes inherit the environment (CPU).
   */
  devices?: string[];
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME: Redis's primary is the one these sentinels name (REDIS_URL's host unused). */
  redisSentinel?: RedisSentinelConfig;
  /** The experiments' folder where the store is a local folder; otherwise only a default no job uses. */
  artifactDir: string;
  /**
   * The artifact store (ARTIFACT_URL, else ARTIFACT_DIR). With a local folder jobs use it directly, as all
   * hosts must then share it; with S3 each job works in a folder of its own under `workDir` (see handoff.ts).
   * Unset: the local folder `artifactDir`.
   */
  artifact?: ArtifactConfig;
  /** Read cache of store objects, by content hash (ARCAL_CACHE_DIR, ARCAL_CACHE_MAX_BYTES). */
  cache?: CacheConfig;
  /** Jobs' own folders on this host (ARCAL_WORK_DIR [~/.cache/arcal/work]); any of it may be deleted between jobs. */
  workDir?: string;
  queuePrefix: string;
  /** tfjs backend for compute jobs (cpu | wasm | native ...); core picks when unset. */
  backend?: string;
  dataDir?: string;
  /** Largest robustness shard, in examples (rounded down to a multiple of the attack batch size) [4096]. */
  shardExamples: number;
  /** Seconds to wait for running jobs on SIGTERM before exiting. */
  shutdownGraceSeconds: number;
  /** BullMQ lock of a running job (renewed at half this by the worker's own process) [60 s]. */
  lockDurationMs: number;
  /** How often locks of running jobs are checked; a job whose lock expired (its worker died) is handed out again [30 s]. */
  stalledIntervalMs: number;
  logLevel: string;
  /** How long a Postgres outage is ridden out: statements wait and retry this long before they fail [120 s]. */
  dbRetryMs: number;
  /** How often job rows are reconciled with BullMQ (also once at start) [60 s]. */
  reconcileIntervalMs: number;
  /** Memory cap of each sandboxed compute process, MiB: its JavaScript heap and its resident size [80 % of RAM]. */
  computeMemoryMb: number;
}

export type SandboxConfig = Pick<
  WorkerConfig,
  | 'databaseUrl'
  | 'redisUrl'
  | 'redisSentinel'
  | 'artifactDir'
  | 'artifact'
  | 'cache'
  | 'workDir'
  | 'queuePrefix'
  | 'backend'
  | 'dataDir'
  | 'shardExamples'
  | 'dbRetryMs'
  | 'computeMemoryMb'
>;

export const usage = 'arcal-worker [--queues attack,train,evaluate,orchestrate] [--concurrency n] [--devices 0,1,...]';

// What CUDA_VISIBLE_DEVICES accepts: an ordinal, or a GPU / MIG instance UUID as nvidia-smi -L prints it.
const DEVICE_ID = /^(\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+)$/;

/** Parses a device list; empty means none (CPU). Rejects what CUDA would silently ignore. */
export function parseDevices(raw: string, source: string): string[] | undefined {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) return undefined;
  const bad = list.filter((d) => !DEVICE_ID.test(d));
  if (bad.length)
    throw new Error(`${source}: not a device id: ${bad.join(', ')} (use ordinals like 0,1 or GPU-/MIG- UUIDs)`);
  const dup = list.filter((d, i) => list.indexOf(d) !== i);
  if (dup.length) throw new Error(`${source}: device ${dup[0]} listed twice`);
  return list;
}

/** The worker's options, read by the parser every arcal entry point shares. */
const ARGS = {
  string: ['queues', 'concurrency', 'devices'],
  boolean: ['help'],
  values: { queues: 'a list such as attack,train', devices: 'a list such as 0,1' },
} as const;

const usageError = (message: string) => new ArcalError('INVALID_INPUT', `${message}; usage: ${usage}`);

/**
 * The command line (`--queues`, `--concurrency`, `--devices`; ARCAL_DEVICES when `--devices` is not given)
 * and the environment. Bad usage throws one line (an INVALID_INPUT ArcalError ending with the usage; main
 * prints it and exits 2), as do `--help` and `-h` (the usage alone).
 */
export function loadWorkerConfig(argv: string[], env: Record<string, string | undefined>): WorkerConfig {
  let devices = env.ARCAL_DEVICES ? parseDevices(env.ARCAL_DEVICES, 'ARCAL_DEVICES') : undefined;
  const help = new ArcalError('INVALID_INPUT', `usage: ${usage}`);
  if (argv.includes('-h')) throw help;
  let a: ParsedArgs;
  try {
    a = parseArgs(argv, ARGS);
  } catch (e) {
    throw usageError((e as Error).message);
  }
  if (a.flags.help) throw help;
  if (a.positionals.length) throw usageError(`unexpected argument "${a.positionals[0]}"`);
  let queues: QueueName[] = [...QUEUE_NAMES];
  const queueList = str(a, 'queues');
  if (queueList !== undefined) {
    const list = queueList
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q));
    if (!list.length || bad.length)
      throw new ArcalError(
        'INVALID_INPUT',
        `--queues: unknown queue(s) ${bad.join(', ') || '(none given)'}; known: ${QUEUE_NAMES.join(', ')}`,
      );
    queues = list as QueueName[];
  }
  const concurrency = int(a, 'concurrency') ?? 1;
  const deviceList = str(a, 'devices');
  if (deviceList !== undefined) devices = parseDevices(deviceList, '--devices');
  return {
    queues,
    concurrency,
    ...(devices ? { devices } : {}),
    ...sandboxConfig(env),
    shutdownGraceSeconds: Number(env.SHUTDOWN_GRACE_SECONDS ?? 30),
    lockDurationMs: positive(env.ARCAL_JOB_LOCK_MS, 60_000, 'ARCAL_JOB_LOCK_MS'),
    stalledIntervalMs: positive(env.ARCAL_STALLED_INTERVAL_MS, 30_000, 'ARCAL_STALLED_INTERVAL_MS'),
    logLevel: env.LOG_LEVEL || 'info',
    reconcileIntervalMs: positive(env.ARCAL_RECONCILE_INTERVAL_MS, 60_000, 'ARCAL_RECONCILE_INTERVAL_MS'),
  };
}

function positive(v: string | undefined, d: number, name: string): number {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

export function sandboxConfig(env: Record<string, string | undefined>): SandboxConfig {
  const artifact = artifactConfigFromEnv(env);
  const redis = redisConfigFromEnv(env);
  return {
    databaseUrl: env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: redis.url,
    ...(redis.sentinel ? { redisSentinel: redis.sentinel } : {}),
    artifactDir: artifact.kind === 'file' ? artifact.dir : env.ARTIFACT_DIR || './runs/service',
    artifact,
    cache: cacheConfigFromEnv(env),
    workDir: env.ARCAL_WORK_DIR || join(homedir(), '.cache', 'arcal', 'work'),
    queuePrefix: env.ARCAL_QUEUE_PREFIX || 'arcal',
    ...(env.ARCAL_BACKEND ? { backend: env.ARCAL_BACKEND } : {}),
    ...(env.ARCAL_DATA_DIR ? { dataDir: env.ARCAL_DATA_DIR } : {}),
    shardExamples: positive(env.ARCAL_SHARD_EXAMPLES, 4096, 'ARCAL_SHARD_EXAMPLES'),
    dbRetryMs: positive(env.ARCAL_DB_RETRY_SECONDS, 120, 'ARCAL_DB_RETRY_SECONDS') * 1000,
    computeMemoryMb: Math.floor(
      positive(env.ARCAL_COMPUTE_MEMORY_MB, Math.floor((totalmem() * 0.8) / 2 ** 20), 'ARCAL_COMPUTE_MEMORY_MB'),
    ),
  };
}
