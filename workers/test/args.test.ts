import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, usage } from '../src/config.ts';

/** The refusal of `argv` (code and message), or undefined when it is accepted. */
const refusal = (argv: string[], env: Record<string, string> = {}) => {
  try {
    loadWorkerConfig(argv, env);
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return undefined;
};
const bad = (message: string) => ({ code: 'INVALID_INPUT', message: `${message}; usage: ${usage}` });

describe('arcal-worker flags', () => {
  it('defaults to every queue, one job at a time and no device', () => {
    const c = loadWorkerConfig([], {});
    expect([c.queues, c.concurrency, c.devices]).toEqual([
      ['attack', 'train', 'evaluate', 'orchestrate'],
      1,
      undefined,
    ]);
  });

  it('reads --key value and --key=value, trims lists, and the last of a repeated flag wins', () => {
    const c = loadWorkerConfig(['--queues', 'train, attack', '--concurrency=3', '--devices', '1,0'], {});
    expect([c.queues, c.concurrency, c.devices]).toEqual([['train', 'attack'], 3, ['1', '0']]);
    const d = loadWorkerConfig(['--queues=evaluate', '--concurrency', '2', '--queues', 'orchestrate'], {});
    expect([d.queues, d.concurrency]).toEqual([['orchestrate'], 2]);
  });

  it('takes the devices from ARCAL_DEVICES unless --devices is given, and refuses a bad variable either way', () => {
    expect(loadWorkerConfig([], { ARCAL_DEVICES: '3' }).devices).toEqual(['3']);
    expect(loadWorkerConfig(['--devices', '0'], { ARCAL_DEVICES: '3,4' }).devices).toEqual(['0']);
    expect(refusal(['--devices', '0'], { ARCAL_DEVICES: 'gpu' })?.message).toMatch(
      /^ARCAL_DEVICES: not a device id: gpu/,
    );
  });

  it('refuses bad usage with one INVALID_INPUT line that ends with the usage', () => {
    expect(refusal(['--bogus'])).toEqual(bad('unknown option --bogus'));
    expect(refusal(['-q', 'train'])).toEqual(bad('unknown option -q'));
    expect(refusal(['train'])).toEqual(bad('unexpected argument "train"'));
    expect(refusal(['--queues'])).toEqual(bad('--queues needs a list such as attack,train'));
    expect(refusal(['--devices', '--queues', 'train'])).toEqual(bad('--devices needs a list such as 0,1'));
    expect(refusal(['--concurrency'])).toEqual(bad('--concurrency needs a value'));
    expect(refusal(['--help=yes'])).toEqual(bad('--help takes no value'));
    for (const argv of [['--bogus'], ['--queues'], ['x']]) expect(refusal(argv)!.message).not.toContain('\n');
  });

  it('refuses values it cannot use, naming the flag', () => {
    expect(refusal(['--queues', 'train,gpu,cpu'])).toEqual({
      code: 'INVALID_INPUT',
      message: '--queues: unknown queue(s) gpu, cpu; known: attack, train, evaluate, orchestrate',
    });
    expect(refusal(['--queues='])?.message).toMatch(/^--queues: unknown queue\(s\) \(none given\)/);
    for (const v of ['0', '-1', '1.5', 'two'])
      expect(refusal([`--concurrency=${v}`])).toEqual({
        code: 'INVALID_INPUT',
        message: `--concurrency must be a positive integer, got "${v}"`,
      });
  });

  it('answers --help and -h with the usage alone', () => {
    const usageOnly = { code: 'INVALID_INPUT', message: `usage: ${usage}` };
    expect(refusal(['--help'])).toEqual(usageOnly);
    expect(refusal(['--queues', 'train', '-h'])).toEqual(usageOnly);
  });

  it('the binary exits 2 with one line on stderr before it connects to anything', async () => {
    const bin = new URL('../bin/arcal-worker.js', import.meta.url).pathname;
    // Unreachable services: a worker that got past its arguments would fail differently (exit 1, or hang).
    const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', DATABASE_URL: 'postgresql://x@127.0.0.1:1/x' };
    const run = (argv: string[]) =>
      new Promise<[number, string, string]>((resolve) => {
        execFile(process.execPath, [bin, ...argv], { env, timeout: 30_000 }, (err, stdout, stderr) =>
          resolve([err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr]),
        );
      });
    expect(await run(['--concurrency', 'many'])).toEqual([
      2,
      '',
      '--concurrency must be a positive integer, got "many"\n',
    ]);
    expect(await run(['--devices'])).toEqual([2, '', `--devices needs a list such as 0,1; usage: ${usage}\n`]);
  });
});
