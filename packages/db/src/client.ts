/**
 * The Prisma client over `@prisma/adapter-pg` (Prisma 7 has no built-in engine at run time).
 * Processes create one with `createDb(url)` at their entry point and pass it down.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { poolConfigFromUrl } from './schema-engine.ts';

export type Db = PrismaClient;

export interface DbOptions {
  /** Connections in the pool [10]. */
  max?: number;
}

export function createDb(databaseUrl: string, opts: DbOptions = {}): Db {
  const adapter = new PrismaPg({ ...poolConfigFromUrl(databaseUrl), max: opts.max ?? 10 });
  return new PrismaClient({ adapter });
}
