/**
 * The command-line parser every arcal entry point shares (`arcal`, `arcal keys`, `arcal-worker`): node:util's
 * parseArgs for the tokens, and one policy for what is wrong with them, so that every command refuses an
 * unknown option, a value on a flag and a missing value with the same one line (an INVALID_INPUT ArcalError,
 * exit 2).
 * Node-only (node:util): reached through `@arcal/contracts/args`, never from the package index, which the
 * dashboard bundles for the browser.
 */
import { parseArgs as parseTokens } from 'node:util';
import { ArcalError } from './errors.ts';

export interface ParsedArgs {
  positionals: string[];
  /** `true` for a boolean flag that was given, the text for a string option (the last one given wins). */
  flags: Record<string, string | true>;
}

/** Which options a command takes: flags without a value, and options that need one. */
export interface ArgsSpec {
  boolean?: readonly string[];
  string?: readonly string[];
  /**
   * What a string option's value is, for the refusal when it is missing: `{ devices: 'a list such as 0,1' }`
   * says `--devices needs a list such as 0,1` (default: `needs a value`).
   */
  values?: Readonly<Record<string, string>>;
}

const invalid = (message: string): never => {
  throw new ArcalError('INVALID_INPUT', message);
};

/**
 * Positionals, `--flag`, `--key value`, `--key=value` and `--` (everything after it is positional).
 * Refused: an option the command does not take (`--x`, `-x`), `--flag=value`, and a string option whose
 * value is missing or is itself an option (`--out --json`: the user forgot the value).
 */
export function parseArgs(argv: readonly string[], spec: ArgsSpec): ParsedArgs {
  const bools = new Set(spec.boolean ?? []);
  const strings = new Set(spec.string ?? []);
  const options: Record<string, { type: 'boolean' | 'string' }> = {};
  for (const k of bools) options[k] = { type: 'boolean' };
  for (const k of strings) options[k] = { type: 'string' };
  // Non-strict, so that the checks below word every refusal the same way; the tokens keep the raw spelling.
  const { tokens } = parseTokens({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const flags: Record<string, string | true> = {};
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    if (bools.has(t.name) && t.rawName.startsWith('--')) {
      if (t.inlineValue) invalid(`${t.rawName} takes no value`);
      flags[t.name] = true;
    } else if (strings.has(t.name) && t.rawName.startsWith('--')) {
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--')))
        invalid(`${t.rawName} needs ${spec.values?.[t.name] ?? 'a value'}`);
      flags[t.name] = t.value as string;
    } else {
      invalid(`unknown option ${t.rawName}`);
    }
  }
  return { positionals, flags };
}

/** The text of a string option, or undefined when it was not given. */
export const str = (a: ParsedArgs, k: string): string | undefined =>
  typeof a.flags[k] === 'string' ? (a.flags[k] as string) : undefined;

/** A string option read as a positive integer; anything else is refused with the option's name. */
export function int(a: ParsedArgs, k: string): number | undefined {
  const v = str(a, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) invalid(`--${k} must be a positive integer, got "${v}"`);
  return n;
}
