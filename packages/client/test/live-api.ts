/**
 * The real API (buildApp) listening on an ephemeral port, against this test file's own database and
 * Redis prefix. Shared by the client, CLI and browser tests. Nothing consumes the queues: tests move
 * experiments along through the repositories and the event publisher, as a worker would.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiDeps, buildApp, createApiDeps, loadConfig } from '@arcal/api';
import type { IntegrationEnv } from '@arcal/db/testing';
import type { FastifyInstance } from 'fastify';

export interface LiveApi {
  url: string;
  app: FastifyInstance;
  deps: ApiDeps;
  key: string;
  /** Where the API reads artifacts (a worker on the same database should write there too). */
  artifactDir: string;
  close(): Promise<void>;
}

export async function startApi(env: IntegrationEnv, project = 'team-a'): Promise<LiveApi> {
  const config = {
    ...loadConfig({}),
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    queuePrefix: env.prefix,
    artifactDir: mkdtempSync(join(tmpdir(), 'arcal-client-')),
    logLevel: 'silent',
    host: '127.0.0.1',
    rateLimit: { max: 100_000, windowMs: 60_000 },
  };
  const deps = await createApiDeps(config);
  const app = await buildApp(config, deps, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  const key = (await deps.repos.projects.createApiKey(project)).key;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    app,
    deps,
    key,
    artifactDir: config.artifactDir,
    async close() {
      await app.close();
      await deps.close();
    },
  };
}

/** A small valid spec (the synthetic dataset, one member, two epochs). */
export const smallSpec = (name = 'small', over: Record<string, unknown> = {}) => ({
  name,
  seed: 3,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 512, validationSize: 128, testLimit: 128 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 64, optimizer: 'sgd', learningRate: 0.05 },
  method: { kind: 'vanilla' },
  ensemble: { members: 1, mode: 'independent' },
  evaluation: { bins: 15 },
  ...over,
});
