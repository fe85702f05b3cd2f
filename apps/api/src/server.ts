/**
 * The API process: config from the environment (once), dependencies, start-up checks, listen,
 * graceful shutdown. `npm run start:api`.
 */
import { assertNoEviction } from '@arcal/db';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { createApiDeps } from './deps.ts';

const config = loadConfig(process.env);
const deps = await createApiDeps(config);
try {
  await assertNoEviction(deps.redis);
} catch (err) {
  console.error(`arcal api: ${(err as Error).message}`);
  process.exit(1);
}
if (config.bootstrapKey)
  await deps.repos.projects.importApiKey(config.bootstrapProject, config.bootstrapKey, 'bootstrap');
const app = await buildApp(config, deps);
// Jobs whose rows were committed but never enqueued (a crash in between) are handed to the queue now, then periodically.
const repaired = await deps.dispatcher.repairPending(0);
if (repaired) app.log.warn({ repaired }, 'enqueued jobs left pending by an earlier crash');
const repairTimer = setInterval(() => {
  deps.dispatcher.repairPending(60_000).catch((err) => app.log.error({ err }, 'repair of pending jobs failed'));
}, 60_000);
repairTimer.unref();

await app.listen({ host: config.host, port: config.port });

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    clearInterval(repairTimer);
    await app.close();
    await deps.close();
    process.exit(0);
  });
}
