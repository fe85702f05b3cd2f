/**
 * API-key management from the command line: `arcal keys create --project <name> [--name <label>] [--json]`
 * creates the project when it is missing and a key for it, and prints the key once (only its hash is kept).
 * Here rather than in the API so that the CLI reaches it without the HTTP server's dependencies.
 */
import { ArcalError } from '@arcal/contracts';
import { parseArgs, str } from '@arcal/contracts/args';
import { createDb } from './client.ts';
import { DEFAULT_DATABASE_URL } from './migrate.ts';
import { ProjectsRepository } from './repositories/projects.repository.ts';

export const KEYS_USAGE = 'arcal keys create --project <name> [--name <label>] [--json]';

/** Project names: letters, digits, `.`, `_` and `-`, at most 100 (they appear in logs and file names). */
export const PROJECT_NAME = /^[\w.-]{1,100}$/;

export interface CreatedKey {
  project: string;
  /** The key in clear text: shown once, never stored. */
  key: string;
  id: string;
  prefix: string;
}

/** Creates a key for `project` (and the project when missing) over one short-lived connection. */
export async function createProjectKey(databaseUrl: string, project: string, label?: string): Promise<CreatedKey> {
  if (!PROJECT_NAME.test(project))
    throw new ArcalError('INVALID_INPUT', `project name "${project}": use letters, digits, . _ - (at most 100)`);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    const k = await new ProjectsRepository(db).createApiKey(project, label);
    return { project, key: k.key, id: k.id, prefix: k.prefix };
  } finally {
    await db.$disconnect();
  }
}

export interface KeysCommandIo {
  /** DATABASE_URL is read from here (default: process.env). */
  env?: Record<string, string | undefined>;
  stdout?: (s: string) => void;
}

/**
 * Runs `arcal keys …` (`argv` excludes `arcal keys`, e.g. ['create', '--project', 'p']) and returns the exit
 * code; bad arguments throw INVALID_INPUT, which the CLI prints as one line with exit 2.
 */
export async function keysCommand(argv: readonly string[], io: KeysCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const env = io.env ?? process.env;
  const a = parseArgs(argv[0] === 'create' ? argv.slice(1) : argv, { string: ['project', 'name'], boolean: ['json'] });
  const project = str(a, 'project');
  if (a.positionals.length)
    throw new ArcalError('INVALID_INPUT', `unexpected "${a.positionals[0]}"; usage: ${KEYS_USAGE}`);
  if (!project) throw new ArcalError('INVALID_INPUT', `--project is required; usage: ${KEYS_USAGE}`);
  const k = await createProjectKey(env.DATABASE_URL || DEFAULT_DATABASE_URL, project, str(a, 'name'));
  if (a.flags.json) out(`${JSON.stringify(k)}\n`);
  else out(`project: ${k.project}\nkey:     ${k.key}\n(store it now: only its hash is kept)\n`);
  return 0;
}
