/** What the remote commands share: their I/O, their shape, and reading their arguments and files. */
import { readFileSync } from 'node:fs';
import type { ArcalClient } from '@arcal/client';
import { ArcalError } from '@arcal/contracts';
import type { ArgsSpec, ParsedArgs } from '../../args.ts';

export interface RemoteIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  signal?: AbortSignal;
  /** For tests: a fetch other than the global one. */
  fetch?: typeof fetch;
  /** How often `--wait` re-reads a study, ms (default 5000). */
  pollMs?: number;
}

/** One remote command: its usage line, the options it takes, and what it does with them. */
export interface RemoteCommandModule {
  usage: string;
  options: ArgsSpec;
  run(a: ParsedArgs, client: ArcalClient, io: RemoteIo): Promise<number>;
}

/** A JSON file the user named; a missing file is bad input, bad JSON a bad spec. */
export function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArcalError(
      code ? 'INVALID_INPUT' : 'INVALID_SPEC',
      `${file}: ${code === 'ENOENT' ? 'no such file' : code ? (e as Error).message : `not valid JSON (${(e as Error).message})`}`,
    );
  }
}

/** The one positional a command takes (an id or a file); none or more is a usage error. */
export function onePositional(a: ParsedArgs, usage: string): string {
  const v = a.positionals[0];
  if (!v || a.positionals.length > 1) throw new ArcalError('INVALID_INPUT', `usage: ${usage}`);
  return v;
}

/** `--limit n` (default 50). */
export function limitOf(a: ParsedArgs): number {
  const text = typeof a.flags.limit === 'string' ? a.flags.limit : undefined;
  const limit = text === undefined ? 50 : Number(text);
  if (!Number.isInteger(limit) || limit < 1)
    throw new ArcalError('INVALID_INPUT', `--limit must be a positive integer, got "${text}"`);
  return limit;
}

export const printJson = (io: RemoteIo, v: unknown) => io.stdout.write(`${JSON.stringify(v)}\n`);

/** Columns padded to their widest cell (the last one left ragged). */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

export const interrupted = () => Object.assign(new Error('interrupted'), { name: 'AbortError' });
