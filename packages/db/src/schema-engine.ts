/**
 * Prisma's schema engine (compiled to wasm, `@prisma/schema-engine-wasm`) driven in-process through
 * `@prisma/adapter-pg`. This is how `npm run db:migrate` applies `prisma/migrations` without the
 * native engine download: the same engine code, the same `_prisma_migrations` bookkeeping as
 * `prisma migrate deploy`, so both can be used on the same database.
 *
 * The wasm package's interface is internal to Prisma: versions are pinned in package.json and the
 * migration tests run against a real PostgreSQL, so an upgrade that changes it fails loudly.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { PoolConfig } from 'pg';

const require = createRequire(import.meta.url);

/** Splits a postgres URL into fields: pg lets a connection string override `database`, which the shadow connection needs to change. */
export function poolConfigFromUrl(url: string): PoolConfig {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  return {
    host: decodeURIComponent(u.hostname) || '127.0.0.1',
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || 'postgres',
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
}

type WasmEngine = {
  applyMigrations(input: unknown): Promise<{ appliedMigrationNames: string[] }>;
  diff(input: unknown): Promise<{ exitCode: number; stdout: string | null }>;
  free(): void;
};

let bindings: Promise<any> | undefined;

/** Instantiates the wasm module by hand: Node 20 cannot `import` a .wasm file without a flag. */
function loadBindings(): Promise<any> {
  bindings ??= (async () => {
    const pkgDir = dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
    const bg = await import(join(pkgDir, 'schema_engine_bg.js'));
    const { instance } = await WebAssembly.instantiate(readFileSync(join(pkgDir, 'schema_engine_bg.wasm')), {
      './schema_engine_bg.js': bg,
    });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports as any).__wbindgen_start?.();
    return bg;
  })();
  return bindings;
}

export interface EngineHandle {
  engine: WasmEngine;
  close(): Promise<void>;
}

/** Opens the schema engine against `databaseUrl`; `schema` is the Prisma schema text (needed for diffs). */
export async function openSchemaEngine(
  databaseUrl: string,
  schema = '',
  log: (line: string) => void = () => {},
): Promise<EngineHandle> {
  const bg = await loadBindings();
  const factory = new PrismaPg(poolConfigFromUrl(databaseUrl));
  // The engine never releases what it connects (its pool would keep holding Prisma's advisory
  // migration lock), so keep every adapter it opens and dispose of them on close.
  const opened: Array<{ dispose(): Promise<void> }> = [];
  const tracking = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => {
      const a = await factory.connect();
      opened.push(a);
      return a;
    },
    connectToShadowDb: async () => {
      const a = await factory.connectToShadowDb();
      opened.push(a);
      return a;
    },
  };
  const adapter = bindMigrationAwareSqlAdapterFactory(tracking as unknown as PrismaPg);
  const engine: WasmEngine = await bg.SchemaEngine.new(
    { datamodels: schema ? [['schema.prisma', schema]] : undefined },
    (line: string) => log(String(line)),
    adapter,
  );
  return {
    engine,
    async close() {
      engine.free();
      await Promise.allSettled(opened.map((a) => a.dispose()));
    },
  };
}

export interface MigrationsList {
  baseDir: string;
  lockfile: { path: string; content: string | null };
  shadowDbInitScript: string;
  migrationDirectories: Array<{
    path: string;
    migrationFile: { path: string; content: { tag: 'ok'; value: string } | { tag: 'error'; value: string } };
  }>;
}

/** Reads `prisma/migrations` the way the Prisma CLI does (sorted directory names, each with migration.sql). */
export function readMigrations(baseDir: string): MigrationsList {
  const lockPath = join(baseDir, 'migration_lock.toml');
  const dirs = readdirSync(baseDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: dirs.map((name) => {
      const file = join(baseDir, name, 'migration.sql');
      return {
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: existsSync(file)
            ? { tag: 'ok' as const, value: readFileSync(file, 'utf8') }
            : { tag: 'error' as const, value: `${file} is missing` },
        },
      };
    }),
  };
}

const emptyFilters = { externalTables: [], externalEnums: [] };

/** `prisma migrate deploy`: applies every migration not yet recorded in `_prisma_migrations`. Returns their names. */
export async function applyMigrations(
  databaseUrl: string,
  migrationsDir: string,
  log?: (line: string) => void,
): Promise<string[]> {
  const h = await openSchemaEngine(databaseUrl, '', log);
  try {
    const out = await h.engine.applyMigrations({
      migrationsList: readMigrations(migrationsDir),
      filters: emptyFilters,
    });
    return out.appliedMigrationNames;
  } finally {
    await h.close();
  }
}

/** SQL that would take an empty database to `schema` (what `prisma migrate diff --from-empty --to-schema --script` prints). */
export async function sqlFromEmpty(databaseUrl: string, schema: string): Promise<string> {
  const h = await openSchemaEngine(databaseUrl, schema);
  try {
    const out = await h.engine.diff({
      from: { tag: 'empty' },
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schema }] },
      script: true,
      exitCode: null,
      filters: emptyFilters,
    });
    return out.stdout ?? '';
  } finally {
    await h.close();
  }
}
