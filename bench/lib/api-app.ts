/**
 * What the service benches share: the current commit for their JSON line, and an API app (with its deps) on a
 * fresh integration environment (own database schema and queue prefix), or a `skipped` JSON line and exit 0 when
 * PostgreSQL or Redis is not reachable.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, createApiDeps, loadConfig } from '@arcal/api';
import { integrationEnv } from '@arcal/db/testing';

export function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** The API on a fresh integration environment named `name`, with no rate limit; `overrides` patch the config. */
export async function benchApi(name: string, overrides: Partial<ReturnType<typeof loadConfig>> = {}) {
  const integration = await integrationEnv(name);
  if (!integration.available) {
    console.log(JSON.stringify({ skipped: integration.reason }));
    process.exit(0);
  }
  const env = integration.env;
  const config = {
    ...loadConfig({}),
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    queuePrefix: env.prefix,
    artifactDir: mkdtempSync(join(tmpdir(), 'arcal-bench-')),
    rateLimit: { max: 1e9, windowMs: 60_000 },
    logLevel: 'silent' as const,
    ...overrides,
  };
  const deps = await createApiDeps(config);
  const app = await buildApp(config, deps, { logger: false });
  return { env, config, deps, app };
}
