/** CLI for `npm run db:migrate`. Reads DATABASE_URL once (default: the local server's `postgres` database). */
import { DEFAULT_DATABASE_URL, migrate } from '../src/migrate.ts';

const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const verbose = process.argv.includes('--verbose');
try {
  const applied = await migrate(url, verbose ? (l) => process.stderr.write(`${l}\n`) : undefined);
  const where = new URL(url);
  where.password = '';
  console.log(
    applied.length
      ? `applied ${applied.length} migration(s) to ${where}: ${applied.join(', ')}`
      : `${where} is up to date`,
  );
  process.exit(0);
} catch (err) {
  console.error(`migration failed: ${(err as Error).message}`);
  process.exit(1);
}
