import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { int, parseArgs } from '../src/args.ts';

const spec = { boolean: ['json', 'wait'], string: ['out', 'limit'] };
const refusal = (argv: string[]) => {
  try {
    parseArgs(argv, spec);
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return undefined;
};

describe('the shared argument parser', () => {
  it('reads positionals, flags, --key value, --key=value and everything after -- as positional', () => {
    expect(parseArgs(['a', '--json', '--out', 'o.md', 'b', '--limit=3', '--', '--wait', '-x'], spec)).toEqual({
      positionals: ['a', 'b', '--wait', '-x'],
      flags: { json: true, out: 'o.md', limit: '3' },
    });
    // The last of a repeated option wins; an explicit empty value is a value; a lone dash is a positional.
    expect(parseArgs(['--out', 'a', '--out=b', '--limit=', '-'], spec)).toEqual({
      positionals: ['-'],
      flags: { out: 'b', limit: '' },
    });
  });

  it('refuses unknown options, long or short, with one line', () => {
    expect(refusal(['--follow'])).toEqual({ code: 'INVALID_INPUT', message: 'unknown option --follow' });
    expect(refusal(['--follow=1'])).toEqual({ code: 'INVALID_INPUT', message: 'unknown option --follow' });
    expect(refusal(['-j'])).toEqual({ code: 'INVALID_INPUT', message: 'unknown option -j' });
  });

  it('refuses a missing value, an option in place of a value, and a value on a flag', () => {
    expect(refusal(['x', '--out'])).toEqual({ code: 'INVALID_INPUT', message: '--out needs a value' });
    expect(refusal(['--out', '--json'])).toEqual({ code: 'INVALID_INPUT', message: '--out needs a value' });
    expect(refusal(['--json=yes'])).toEqual({ code: 'INVALID_INPUT', message: '--json takes no value' });
  });

  it('reads positive integers and refuses anything else by name', () => {
    expect(int(parseArgs(['--limit', '12'], spec), 'limit')).toBe(12);
    expect(int(parseArgs([], spec), 'limit')).toBeUndefined();
    for (const v of ['0', '-3', '2.5', 'ten'])
      expect(() => int(parseArgs([`--limit=${v}`], spec), 'limit')).toThrow(
        `--limit must be a positive integer, got "${v}"`,
      );
  });
});

describe('the arcal binary on bad arguments: exit 2 and one line, the same for every command', () => {
  const bin = new URL('../bin/arcal.js', import.meta.url).pathname;
  // No service is reached: every case is refused while its arguments are read.
  const env = {
    ...process.env,
    ARCAL_URL: 'http://127.0.0.1:1',
    ARCAL_API_KEY: 'k',
    DATABASE_URL: 'postgresql://x@127.0.0.1:1/x',
  };
  const cases: Array<[string[], string]> = [
    [['run', 'spec.json', '--bogus'], 'arcal: unknown option --bogus'],
    [['run', 'spec.json', '--out'], 'arcal: --out needs a value'],
    [['status', 'some-id', '--follow'], 'arcal: unknown option --follow'],
    [['report', 'some-id', '--format'], 'arcal: --format needs a value'],
    [['keys', 'create', '--project'], 'arcal: --project needs a value'],
    [['keys', 'create', '--project', 'p', '--admin'], 'arcal: unknown option --admin'],
    [['keys', 'create', '--project', '../x'], 'arcal: project name "../x": use letters, digits, . _ - (at most 100)'],
    [['nonsense'], 'arcal: unknown command "nonsense" (arcal --help lists them)'],
  ];
  // A child process each, awaited (a synchronous spawn would hold this file's event loop for seconds).
  const arcal = (argv: string[]) =>
    new Promise<[number, string, string]>((resolve) => {
      execFile(process.execPath, [bin, ...argv], { env, timeout: 30_000 }, (err, stdout, stderr) =>
        resolve([err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr]),
      );
    });
  it.each(cases)('arcal %j', async (argv, line) => {
    expect(await arcal(argv)).toEqual([2, '', `${line}\n`]);
  });
});
