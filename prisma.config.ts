/**
 * Prisma CLI configuration. Works with DATABASE_URL unset (falls back to the local server) because
 * `prisma generate` must run offline in a fresh clone without any environment.
 */
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
});
