import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, createApiDeps, loadConfig } from '@arcal/api';
import { createRedis, EventPublisher } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ArcalClient, type ExperimentStreamEvent } from '../src/index.ts';
import { smallSpec, startApi } from './live-api.ts';

const integration = await integrationEnv('client-resume');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

/** A second API instance on a given port (what a restarted server is: same Redis and Postgres, new process state). */
async function apiOnPort(port: number) {
  const config = {
    ...loadConfig({}),
    databaseUrl: env!.databaseUrl,
    redisUrl: env!.redisUrl,
    queuePrefix: env!.prefix,
    artifactDir: mkdtempSync(join(tmpdir(), 'arcal-client-')),
    logLevel: 'silent',
  };
  const deps = await createApiDeps(config);
  const app = await buildApp(config, deps, { logger: false });
  await app.listen({ host: '127.0.0.1', port });
  return {
    deps,
    async close() {
      await app.close();
      await deps.close();
    },
  };
}

describe.skipIf(!env)('@arcal/client follows an experiment across an API restart', () => {
  it('skips the shutdown event, reconnects with Last-Event-ID and gets every event once, with no second snapshot', async () => {
    const first = await startApi(env!);
    const redis = createRedis(env!.redisUrl, 'producer');
    const publisher = new EventPublisher(redis, env!.prefix);
    const client = new ArcalClient({ baseUrl: first.url, apiKey: first.key });
    let second: Awaited<ReturnType<typeof apiOnPort>> | undefined;
    try {
      const s = await client.submit(smallSpec('resume'));
      const epoch = (n: number) => publisher.publish(s.id, { type: 'epoch', member: 0, epoch: n, record: { n } });
      const seen: ExperimentStreamEvent[] = [];
      for await (const ev of client.events(s.id, { retryMs: 50 })) {
        seen.push(ev);
        if (ev.event === 'snapshot') {
          await epoch(1);
          await epoch(2);
        } else if (ev.event === 'epoch' && ev.data.epoch === 2) {
          // Restart: the stream gets `shutdown`; one event is published while no API runs, one after.
          await first.close();
          await epoch(3);
          second = await apiOnPort(Number(new URL(first.url).port));
          await epoch(4);
        } else if (ev.event === 'epoch' && ev.data.epoch === 4) {
          await second!.deps.repos.experiments.transition(s.id, ['queued'], 'failed', { code: 'X', message: 'x' });
          await publisher.publish(s.id, { type: 'status', status: 'failed' });
        }
      }
      expect(seen.map((e) => (e.event === 'epoch' ? `epoch ${e.data.epoch}` : e.event))).toEqual([
        'snapshot',
        'epoch 1',
        'epoch 2',
        'epoch 3',
        'epoch 4',
        'status',
        'end',
      ]);
    } finally {
      await second?.close();
      redis.disconnect();
    }
  }, 30_000);
});
