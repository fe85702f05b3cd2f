/**
 * `arcal keys create --project <name> [--name <label>] [--json]`, kept here for callers of @arcal/api; the
 * command itself lives in @arcal/db (`@arcal/db/keys`), which the CLI uses without the server's dependencies.
 */
import { type KeysCommandIo, keysCommand } from '@arcal/db/keys';

export type KeyCommandIo = KeysCommandIo;

/** Runs the command; returns the process exit code. `argv` excludes `arcal keys`, e.g. ['create', '--project', 'p']. */
export const createKeyCommand = (argv: string[], io: KeyCommandIo = {}): Promise<number> => keysCommand(argv, io);
