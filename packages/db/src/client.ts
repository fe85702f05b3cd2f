/**
 * The Prisma client over `@prisma/adapter-pg` (Prisma 7 has no built-in engine at run time), plus the
 * `pg` pool under it. Processes create one with `createDb(url)` at their entry point and pass it down.
 *
 * Repositories use Prisma for everything except a few statements on the hot paths (authentication,
 * submission, job start and completion), which are hand-written SQL run directly on the same pool as
 * named prepared statements (see repositories/sql.ts): Prisma's per-query work (query plan, parameter
 * and result conversion) costs several times the driver's own.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { poolConfigFromUrl } from './schema-engine.ts';

export type Db = PrismaClient & {
  /** The connection pool that Prisma's adapter uses (closed by `$disconnect`). */
  readonly pool: pg.Pool;
};

export interface DbOptions {
  /** Connections in the pool [10]. */
  max?: number;
}

export function createDb(databaseUrl: string, opts: DbOptions = {}): Db {
  const pool = new pg.Pool({ ...poolConfigFromUrl(databaseUrl), max: opts.max ?? 10 });
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  return Object.assign(client, { pool });
}
