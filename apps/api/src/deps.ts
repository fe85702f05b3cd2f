/** Real dependencies of the API, made from its config (server.ts and the tests both use this). */
import {
  closeQueues,
  createDb,
  createQueues,
  createRedis,
  createRepositories,
  EventPublisher,
  EventSubscriber,
  JobDispatcher,
  redisConfigOf,
} from '@arcal/db';
import { createArtifactStore } from '@arcal/storage';
import type { ApiDeps } from './app.ts';
import type { ApiConfig } from './config.ts';

export async function createApiDeps(
  config: Pick<
    ApiConfig,
    | 'databaseUrl'
    | 'redisUrl'
    | 'redisSentinel'
    | 'redisCommandTimeoutMs'
    | 'queuePrefix'
    | 'artifactDir'
    | 'artifactS3'
  >,
): Promise<ApiDeps & { close(): Promise<void> }> {
  const db = createDb(config.databaseUrl);
  const repos = createRepositories(db);
  const target = redisConfigOf(config);
  const redis = createRedis(target, 'producer', {
    ...(config.redisCommandTimeoutMs ? { commandTimeout: config.redisCommandTimeoutMs } : {}),
  });
  const subRedis = createRedis(target, 'worker');
  const queues = createQueues(redis, config.queuePrefix);
  const dispatcher = new JobDispatcher(repos.jobs, queues);
  const events = new EventPublisher(redis, config.queuePrefix);
  const subscriber = new EventSubscriber(subRedis, config.queuePrefix);
  const store = await createArtifactStore(
    config.artifactS3 ? { kind: 's3', ...config.artifactS3 } : { kind: 'file', dir: config.artifactDir },
    repos.objects,
  );
  return {
    db,
    repos,
    redis,
    dispatcher,
    events,
    subscriber,
    store,
    async close() {
      await closeQueues(queues);
      await subscriber.close();
      redis.disconnect();
      await store.close();
      await db.$disconnect();
    },
  };
}
