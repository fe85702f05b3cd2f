/** A small argument parser: positionals, `--flag`, `--key value` and `--key=value`. */
import { ArcalError } from '@arcal/contracts';

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | true>;
}

export function parseArgs(argv: string[], known: { boolean?: string[]; string?: string[] }): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | true> = {};
  const bools = new Set(known.boolean ?? []);
  const strings = new Set(known.string ?? []);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = a.slice(2, eq < 0 ? undefined : eq);
      if (bools.has(key)) {
        if (eq >= 0) throw new ArcalError('INVALID_INPUT', `--${key} takes no value`);
        flags[key] = true;
      } else if (strings.has(key)) {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined || (eq < 0 && v.startsWith('--')))
          throw new ArcalError('INVALID_INPUT', `--${key} needs a value`);
        flags[key] = v;
      } else {
        throw new ArcalError('INVALID_INPUT', `unknown option --${key}`);
      }
    } else {
      positionals.push(a);
    }
  }
  return { positionals, flags };
}

export const str = (a: ParsedArgs, k: string): string | undefined =>
  typeof a.flags[k] === 'string' ? (a.flags[k] as string) : undefined;

export function int(a: ParsedArgs, k: string): number | undefined {
  const v = str(a, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new ArcalError('INVALID_INPUT', `--${k} must be a positive integer, got "${v}"`);
  return n;
}
