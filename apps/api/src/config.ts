/**
 * The API's configuration, read from the environment once at the entry point (server.ts) and
 * passed down. Nothing else in apps/api reads process.env.
 */
import { DATASET_NAMES } from '@arcal/contracts';
import { type RedisSentinelConfig, redisConfigFromEnv } from '@arcal/db';
import { artifactConfigFromEnv, DEFAULT_ARTIFACT_DIR, type S3Location } from '@arcal/storage';
import { DEFAULT_WORKER_FLOPS } from './estimate.ts';
import type { RateLimitConfig } from './plugins/rate-limit.ts';

export interface ApiConfig {
  host: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME: Redis's primary is the one these sentinels name (REDIS_URL's host unused). */
  redisSentinel?: RedisSentinelConfig;
  /**
   * A Redis command of the API (rate limit, enqueue, publish) that gets no answer in this long fails, and the
   * request is answered 503: a Redis that stops answering without closing the connection must not hang requests.
   */
  redisCommandTimeoutMs: number;
  /**
   * The local artifact folder (ARTIFACT_DIR, or the path of a file:// ARTIFACT_URL); each experiment owns
   * `<artifactDir>/<experimentId>/`. Used unless `artifactS3` is set.
   */
  artifactDir: string;
  /** The bucket of an s3:// ARTIFACT_URL with the AWS_* settings; null: the local folder. */
  artifactS3: S3Location | null;
  /** ARTIFACT_PRESIGN=1: downloads redirect to a presigned URL where the store can sign one (S3). */
  artifactPresign: boolean;
  /** Key prefix of every BullMQ queue and event channel. */
  queuePrefix: string;
  /** When set, start-up makes sure this key exists (project `bootstrapProject`). */
  bootstrapKey?: string;
  bootstrapProject: string;
  /** Requests per project (after authentication) and per client address (before it) per window. */
  rateLimit: RateLimitConfig;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Largest estimated cost (CPU-seconds on this service) accepted per experiment. */
  budgetSeconds: number;
  /** Memory cap of one worker compute process (the workers' ARCAL_COMPUTE_MEMORY_MB); a larger estimated peak is refused (422). */
  workerMemoryBytes: number;
  /** Unfinished (queued, running, cancelling) experiments one project may have; more are refused (429). */
  maxActivePerProject: number;
  /** Effective floating-point operations per second that the estimate assumes for one worker. */
  workerFlops: number;
  /** Datasets that specs may name (server-side registry; a spec never carries a path). */
  datasets: string[];
  sessionTtlMs: number;
  /** Marks the session cookie Secure (set behind TLS). */
  secureCookies: boolean;
  logLevel: string;
  /**
   * Whether X-Forwarded-For names the client (Fastify's trustProxy): true behind a proxy that sets it, or the
   * proxies' addresses/CIDRs (comma-separated) to trust only those. Off, the socket's peer is the client.
   */
  trustProxy: boolean | string;
  /**
   * Longest time from SIGTERM to exit, ms: open event streams are told to reconnect at once and in-flight
   * requests get the rest; past it the process exits with code 1.
   */
  shutdownTimeoutMs: number;
}

/** TRUST_PROXY: unset, 0 or false = off; 1 or true = trust every hop; otherwise addresses/CIDRs of the proxies. */
function trustProxyOf(v: string | undefined): boolean | string {
  const s = (v ?? '').trim();
  if (s === '' || s === '0' || s.toLowerCase() === 'false') return false;
  if (s === '1' || s.toLowerCase() === 'true') return true;
  return s;
}

const int = (v: string | undefined, d: number, name: string): number => {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
};

export function loadConfig(env: Record<string, string | undefined>): ApiConfig {
  const datasets = env.ARCAL_DATASETS
    ? env.ARCAL_DATASETS.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [...DATASET_NAMES];
  for (const d of datasets) {
    if (!(DATASET_NAMES as readonly string[]).includes(d)) throw new Error(`ARCAL_DATASETS: unknown dataset "${d}"`);
  }
  const artifacts = artifactConfigFromEnv(env);
  const redis = redisConfigFromEnv(env);
  return {
    host: env.HOST || '0.0.0.0',
    port: int(env.PORT, 3000, 'PORT'),
    databaseUrl: env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: redis.url,
    ...(redis.sentinel ? { redisSentinel: redis.sentinel } : {}),
    redisCommandTimeoutMs: int(env.REDIS_COMMAND_TIMEOUT_MS, 5000, 'REDIS_COMMAND_TIMEOUT_MS'),
    artifactDir: artifacts.kind === 'file' ? artifacts.dir : env.ARTIFACT_DIR || DEFAULT_ARTIFACT_DIR,
    artifactS3: artifacts.kind === 's3' ? artifacts : null,
    artifactPresign: env.ARTIFACT_PRESIGN === '1',
    queuePrefix: env.ARCAL_QUEUE_PREFIX || 'arcal',
    ...(env.ARCAL_BOOTSTRAP_KEY ? { bootstrapKey: env.ARCAL_BOOTSTRAP_KEY } : {}),
    bootstrapProject: env.ARCAL_BOOTSTRAP_PROJECT || 'default',
    rateLimit: {
      max: int(env.RATE_LIMIT_MAX, 120, 'RATE_LIMIT_MAX'),
      windowMs: int(env.RATE_LIMIT_WINDOW_MS, 60_000, 'RATE_LIMIT_WINDOW_MS'),
      ...(env.RATE_LIMIT_ADDRESS_MAX
        ? { addressMax: int(env.RATE_LIMIT_ADDRESS_MAX, 0, 'RATE_LIMIT_ADDRESS_MAX') }
        : {}),
    },
    bodyLimit: int(env.BODY_LIMIT_BYTES, 256 * 1024, 'BODY_LIMIT_BYTES'),
    budgetSeconds: int(env.ARCAL_BUDGET_SECONDS, 24 * 3600, 'ARCAL_BUDGET_SECONDS'),
    workerFlops: int(env.ARCAL_WORKER_FLOPS, DEFAULT_WORKER_FLOPS, 'ARCAL_WORKER_FLOPS'),
    workerMemoryBytes: int(env.ARCAL_COMPUTE_MEMORY_MB, 8192, 'ARCAL_COMPUTE_MEMORY_MB') * 2 ** 20,
    maxActivePerProject: int(env.ARCAL_MAX_ACTIVE_PER_PROJECT, 512, 'ARCAL_MAX_ACTIVE_PER_PROJECT'),
    datasets,
    sessionTtlMs: int(env.SESSION_TTL_MS, 8 * 3600 * 1000, 'SESSION_TTL_MS'),
    secureCookies: env.SECURE_COOKIES === '1',
    logLevel: env.LOG_LEVEL || 'info',
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    shutdownTimeoutMs: int(env.SHUTDOWN_TIMEOUT_MS, 10_000, 'SHUTDOWN_TIMEOUT_MS'),
  };
}
