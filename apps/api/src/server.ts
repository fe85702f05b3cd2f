/**
 * The API process: config from the environment (once), dependencies, start-up checks, listen,
 * graceful shutdown within SHUTDOWN_TIMEOUT_MS. `npm run start:api`.
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
    app.log.info({ signal, boundMs: config.shutdownTimeoutMs }, 'shutting down');
    // The bound holds even if a request or a dependency never lets go.
    setTimeout(() => {
      app.log.error({ boundMs: config.shutdownTimeoutMs }, 'shutdown bound reached; exiting with requests open');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    clearInterval(repairTimer);
    try {
      // Stops accepting, sends every event stream `shutdown` (routes/experiments.ts), waits for the rest.
      await app.close();
      await deps.close();
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    process.exit(0);
  });
}
