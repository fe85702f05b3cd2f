/**
 * A worker's database client rides out a PostgreSQL outage (createDb's retryMs): a statement issued while the
 * server is stopped waits and succeeds once it is back, on a pool whose connections the shutdown closed;
 * without retries the same statement fails at once. The suite's own PostgreSQL (test/support), stopped for 3 s.
 */
import { createDb, isConnectionError } from '@arcal/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, serversAvailable, startPostgres } from '../support/servers.ts';

const missing = serversAvailable();
if (missing && process.env.REQUIRE_FAULTS === '1') throw new Error(`needs PostgreSQL's server programs: ${missing}`);

describe.skipIf(Boolean(missing))('createDb retryMs (own PostgreSQL, stopped and started)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
  });

  it('a statement during a 3 s outage waits and succeeds; without retries it fails with a connection error', async () => {
    const patient = createDb(server.url, { max: 2, retryMs: 60_000 });
    const hasty = createDb(server.url, { max: 2 });
    // Both pools hold an open connection when the server goes away.
    expect(await patient.pool.query('select 1 as x').then((r) => r.rows)).toEqual([{ x: 1 }]);
    expect(await hasty.pool.query('select 1 as x').then((r) => r.rows)).toEqual([{ x: 1 }]);
    await server.stop();
    let retries = 0;
    const slow = createDb(server.url, { max: 2, retryMs: 60_000, onRetry: () => void retries++ });
    const during = slow.pool.query('select 2 as x').then((r) => r.rows);
    const viaPrisma = patient.$queryRawUnsafe<Array<{ x: number }>>('select 3 as x');
    const failed = await hasty.pool.query('select 1').then(
      () => null,
      (e: unknown) => e,
    );
    expect(isConnectionError(failed)).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    await server.start();
    expect(await during).toEqual([{ x: 2 }]);
    expect(await viaPrisma).toEqual([{ x: 3 }]);
    expect(retries).toBeGreaterThan(0);
    await Promise.all([patient.$disconnect(), hasty.$disconnect(), slow.$disconnect()]);
  }, 120_000);

  it('statement errors are not connection errors and are never retried', async () => {
    const db = createDb(server.url, { max: 1, retryMs: 60_000 });
    const err = await db.pool.query('select * from no_such_table').then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBe('42P01');
    expect(isConnectionError(err)).toBe(false);
    await db.$disconnect();
  });
});
