/**
 * `npm run db:migrate`: applies `prisma/migrations` through Prisma's own migration engine (wasm build),
 * recording each in `_prisma_migrations` exactly as `prisma migrate deploy` does.
 */
import { fileURLToPath } from 'node:url';
import { applyMigrations } from './schema-engine.ts';

/** Folder holding the migrations, relative to this file (packages/db/src → prisma/migrations). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));
export const SCHEMA_PATH = fileURLToPath(new URL('../../../prisma/schema.prisma', import.meta.url));
export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Applies pending migrations to `databaseUrl`; returns the names applied now (empty when up to date). */
export function migrate(databaseUrl: string, log?: (line: string) => void): Promise<string[]> {
  return applyMigrations(databaseUrl, MIGRATIONS_DIR, log);
}
