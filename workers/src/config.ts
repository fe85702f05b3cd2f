/**
 * Worker configuration: command line (`--queues`, `--concurrency`) plus environment, parsed once at the
 * entry point. Sandboxed processors are separate processes: they read the same variables once at their
 * own entry (`sandboxConfig`).
 */
import { QUEUE_NAMES, type QueueName } from '@arcal/db';

export interface WorkerConfig {
  queues: QueueName[];
  concurrency: number;
  databaseUrl: string;
  redisUrl: string;
  artifactDir: string;
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
}

export type SandboxConfig = Pick<
  WorkerConfig,
  'databaseUrl' | 'redisUrl' | 'artifactDir' | 'queuePrefix' | 'backend' | 'dataDir' | 'shardExamples'
>;

export const usage = 'arcal-worker [--queues attack,train,evaluate,orchestrate] [--concurrency n]';

export function loadWorkerConfig(argv: string[], env: Record<string, string | undefined>): WorkerConfig {
  let queues: QueueName[] = [...QUEUE_NAMES];
  let concurrency = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--queues') {
      const list = (value() ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = list.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q));
      if (!list.length || bad.length)
        throw new Error(
          `--queues: unknown queue(s) ${bad.join(', ') || '(none given)'}; known: ${QUEUE_NAMES.join(', ')}`,
        );
      queues = list as QueueName[];
    } else if (flag === '--concurrency') {
      concurrency = Number(value());
      if (!Number.isInteger(concurrency) || concurrency < 1)
        throw new Error('--concurrency must be a positive integer');
    } else if (flag === '--help' || flag === '-h') {
      throw new Error(`usage: ${usage}`);
    } else {
      throw new Error(`unknown argument ${a}\nusage: ${usage}`);
    }
  }
  return {
    queues,
    concurrency,
    ...sandboxConfig(env),
    shutdownGraceSeconds: Number(env.SHUTDOWN_GRACE_SECONDS ?? 30),
    lockDurationMs: positive(env.ARCAL_JOB_LOCK_MS, 60_000, 'ARCAL_JOB_LOCK_MS'),
    stalledIntervalMs: positive(env.ARCAL_STALLED_INTERVAL_MS, 30_000, 'ARCAL_STALLED_INTERVAL_MS'),
    logLevel: env.LOG_LEVEL || 'info',
  };
}

function positive(v: string | undefined, d: number, name: string): number {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

export function sandboxConfig(env: Record<string, string | undefined>): SandboxConfig {
  return {
    databaseUrl: env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    artifactDir: env.ARTIFACT_DIR || './runs/service',
    queuePrefix: env.ARCAL_QUEUE_PREFIX || 'arcal',
    ...(env.ARCAL_BACKEND ? { backend: env.ARCAL_BACKEND } : {}),
    ...(env.ARCAL_DATA_DIR ? { dataDir: env.ARCAL_DATA_DIR } : {}),
    shardExamples: positive(env.ARCAL_SHARD_EXAMPLES, 4096, 'ARCAL_SHARD_EXAMPLES'),
  };
}
