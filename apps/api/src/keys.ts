/**
 * `arcal keys create --project <name> [--name <label>] [--json]`: creates a project (if needed) and an
 * API key, printing the key once. Reads DATABASE_URL from the environment given (default: process.env).
 */
import { ArcalError } from '@arcal/contracts';
import { createDb, DEFAULT_DATABASE_URL, ProjectsRepository } from '@arcal/db';

export interface KeyCommandIo {
  env?: Record<string, string | undefined>;
  stdout?: (s: string) => void;
}

/** Runs the command; returns the process exit code. `argv` excludes `arcal keys`, e.g. ['create', '--project', 'p']. */
export async function createKeyCommand(argv: string[], io: KeyCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => process.stdout.write(s));
  const env = io.env ?? process.env;
  const args = argv[0] === 'create' ? argv.slice(1) : argv;
  let project: string | undefined;
  let label: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') json = true;
    else if (a === '--project') project = args[++i];
    else if (a.startsWith('--project=')) project = a.slice('--project='.length);
    else if (a === '--name') label = args[++i];
    else if (a.startsWith('--name=')) label = a.slice('--name='.length);
    else
      throw new ArcalError(
        'INVALID_INPUT',
        `unknown argument ${a}; usage: arcal keys create --project <name> [--name <label>] [--json]`,
      );
  }
  if (!project || !/^[\w.-]{1,100}$/.test(project)) {
    throw new ArcalError(
      'INVALID_INPUT',
      'usage: arcal keys create --project <name> [--name <label>] [--json] (name: letters, digits, . _ -)',
    );
  }
  const db = createDb(env.DATABASE_URL || DEFAULT_DATABASE_URL, { max: 1 });
  try {
    const k = await new ProjectsRepository(db).createApiKey(project, label);
    if (json) out(`${JSON.stringify({ project, key: k.key, id: k.id, prefix: k.prefix })}\n`);
    else out(`project: ${project}\nkey:     ${k.key}\n(store it now: only its hash is kept)\n`);
    return 0;
  } finally {
    await db.$disconnect();
  }
}
