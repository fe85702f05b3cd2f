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
} from '@arcal/db';
import type { ApiDeps } from './app.ts';
import type { ApiConfig } from './config.ts';

export async function createApiDeps(
  config: Pick<ApiConfig, 'databaseUrl' | 'redisUrl' | 'queuePrefix'>,
): Promise<ApiDeps & { close(): Promise<void> }> {
  const db = createDb(config.databaseUrl);
  const repos = createRepositories(db);
  const redis = createRedis(config.redisUrl, 'producer');
  const subRedis = createRedis(config.redisUrl, 'worker');
  const queues = createQueues(redis, config.queuePrefix);
  const dispatcher = new JobDispatcher(repos.jobs, queues);
  const events = new EventPublisher(redis, config.queuePrefix);
  const subscriber = new EventSubscriber(subRedis, config.queuePrefix);
  return {
    db,
    repos,
    redis,
    dispatcher,
    events,
    subscriber,
    async close() {
      await closeQueues(queues);
      await subscriber.close();
      redis.disconnect();
      await db.$disconnect();
    },
  };
}
