/**
 * The API's configuration, read from the environment once at the entry point (server.ts) and
 * passed down. Nothing else in apps/api reads process.env.
 */
import { DATASET_NAMES } from '@arcal/contracts';

export interface ApiConfig {
  host: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** Root of stored artifacts; each experiment owns `<artifactDir>/<experimentId>/`. */
  artifactDir: string;
  /** Key prefix of every BullMQ queue and event channel. */
  queuePrefix: string;
  /** When set, start-up makes sure this key exists (project `bootstrapProject`). */
  bootstrapKey?: string;
  bootstrapProject: string;
  /** Requests per key (or per address when unauthenticated) per window. */
  rateLimit: { max: number; windowMs: number };
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Largest estimated cost (CPU-seconds on this service) accepted per experiment. */
  budgetSeconds: number;
  /** Effective floating-point operations per second that the estimate assumes for one worker. */
  workerFlops: number;
  /** Datasets that specs may name (server-side registry; a spec never carries a path). */
  datasets: string[];
  sessionTtlMs: number;
  /** Marks the session cookie Secure (set behind TLS). */
  secureCookies: boolean;
  logLevel: string;
  trustProxy: boolean;
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
  return {
    host: env.HOST || '0.0.0.0',
    port: int(env.PORT, 3000, 'PORT'),
    databaseUrl: env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    artifactDir: env.ARTIFACT_DIR || './runs/service',
    queuePrefix: env.ARCAL_QUEUE_PREFIX || 'arcal',
    ...(env.ARCAL_BOOTSTRAP_KEY ? { bootstrapKey: env.ARCAL_BOOTSTRAP_KEY } : {}),
    bootstrapProject: env.ARCAL_BOOTSTRAP_PROJECT || 'default',
    rateLimit: {
      max: int(env.RATE_LIMIT_MAX, 120, 'RATE_LIMIT_MAX'),
      windowMs: int(env.RATE_LIMIT_WINDOW_MS, 60_000, 'RATE_LIMIT_WINDOW_MS'),
    },
    bodyLimit: int(env.BODY_LIMIT_BYTES, 256 * 1024, 'BODY_LIMIT_BYTES'),
    budgetSeconds: int(env.ARCAL_BUDGET_SECONDS, 24 * 3600, 'ARCAL_BUDGET_SECONDS'),
    workerFlops: int(env.ARCAL_WORKER_FLOPS, 2e9, 'ARCAL_WORKER_FLOPS'),
    datasets,
    sessionTtlMs: int(env.SESSION_TTL_MS, 8 * 3600 * 1000, 'SESSION_TTL_MS'),
    secureCookies: env.SECURE_COOKIES === '1',
    logLevel: env.LOG_LEVEL || 'info',
    trustProxy: env.TRUST_PROXY === '1',
  };
}
