/** Builds the API against this file's own database and Redis prefix (see @arcal/db/testing). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IntegrationEnv } from '@arcal/db/testing';
import { buildApp } from '../src/app.ts';
import { type ApiConfig, loadConfig } from '../src/config.ts';
import { createApiDeps } from '../src/deps.ts';

export function testConfig(env: IntegrationEnv, overrides: Partial<ApiConfig> = {}): ApiConfig {
  return {
    ...loadConfig({}),
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    queuePrefix: env.prefix,
    artifactDir: mkdtempSync(join(tmpdir(), 'arcal-api-')),
    logLevel: 'silent',
    ...overrides,
  };
}

export async function testApp(env: IntegrationEnv, overrides: Partial<ApiConfig> = {}) {
  const config = testConfig(env, overrides);
  const deps = await createApiDeps(config);
  const app = await buildApp(config, deps, { logger: false });
  return {
    app,
    deps,
    config,
    async close() {
      await app.close();
      await deps.close();
    },
  };
}
