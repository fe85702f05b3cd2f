import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JOB_CATALOG, JOB_KINDS, payloadProblem, QUEUE_NAMES, SANDBOXED_KINDS } from '@arcal/contracts';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { assertHandlers, HANDLERS, inProcess, missingHandlers, sandboxedHandlers } from '../src/handlers.ts';
import { runJob } from '../src/run-job.ts';

// The wire format of the previous version, written out by hand: jobs it queued must still find a handler
// and a payload schema that accepts them.
const PREVIOUS: Array<[string, Record<string, unknown>]> = [
  ['orchestrate:start', { experimentId: 'e' }],
  ['orchestrate:merge-robustness', { experimentId: 'e' }],
  ['orchestrate:epoch-barrier', { experimentId: 'e', epoch: 3 }],
  ['orchestrate:members-done', { experimentId: 'e' }],
  ['orchestrate:finalize', { experimentId: 'e' }],
  ['orchestrate:noop', { experimentId: 'e' }],
  ['train:experiment', { experimentId: 'e' }],
  ['train:vanilla', { experimentId: 'e' }],
  ['train:member', { experimentId: 'e', member: 2 }],
  ['train:member-epoch', { experimentId: 'e', member: 1, epoch: 0 }],
  ['attack:robustness-shard', { experimentId: 'e', split: 'validation', shard: 1, start: 256, end: 512 }],
  ['attack:rerank', { experimentId: 'e', epoch: 2 }],
  ['evaluate:evaluate', { experimentId: 'e' }],
];

describe('job catalog and handler tables', () => {
  it('every kind the previous version queued is still in the catalog, handled, and its payload accepted', () => {
    for (const [kind, payload] of PREVIOUS) {
      expect(JOB_KINDS).toContain(kind);
      expect(typeof HANDLERS[kind as keyof typeof HANDLERS], kind).toBe('function');
      expect(payloadProblem(kind as never, payload), kind).toBe('');
    }
    expect(QUEUE_NAMES).toEqual(['attack', 'train', 'evaluate', 'orchestrate']);
  });

  it('payload schemas refuse what a handler could not use, naming the property', () => {
    expect(payloadProblem('train:member', { experimentId: 'e' })).toMatch(/member/);
    expect(
      payloadProblem('attack:robustness-shard', { experimentId: 'e', split: 'dev', shard: 0, start: 0, end: 1 }),
    ).toMatch(/split/);
    expect(payloadProblem('orchestrate:epoch-barrier', { experimentId: 'e', epoch: -1 })).toMatch(/epoch/);
    expect(payloadProblem('orchestrate:start', {})).toMatch(/experimentId/);
  });

  it('a job whose payload does not fit its kind fails as unrecoverable before it touches anything', async () => {
    const job = { id: 'j-1', name: 'member', queueName: 'train', data: { experimentId: 'e' }, attemptsMade: 0 };
    // No context at all: the payload is refused before the database is read.
    const failure = await runJob(undefined as never, HANDLERS, job).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(UnrecoverableError);
    expect((failure as Error).message).toMatch(/^job j-1 \(train:member\) has a malformed payload: \/member/);
  });

  it('sandboxed kinds are exactly those of the train, attack and evaluate queues, and each table holds only its side', () => {
    const bySplit = JOB_KINDS.filter((k) => !k.startsWith('orchestrate:'));
    expect([...SANDBOXED_KINDS].sort()).toEqual(bySplit.sort());
    expect(Object.keys(sandboxedHandlers).sort()).toEqual(bySplit.sort());
    expect(Object.keys(inProcess).sort()).toEqual(JOB_KINDS.filter((k) => k.startsWith('orchestrate:')).sort());
    expect(Object.keys(JOB_CATALOG)).toHaveLength(PREVIOUS.length);
  });

  it('the real tables cover every queue; a table without a kind is refused with the kind named', () => {
    expect(missingHandlers([...QUEUE_NAMES])).toEqual([]);
    expect(() => assertHandlers([...QUEUE_NAMES])).not.toThrow();
    const { 'attack:rerank': _dropped, ...partial } = HANDLERS;
    expect(missingHandlers(['attack', 'train'], partial)).toEqual(['attack:rerank']);
    expect(missingHandlers(['train', 'orchestrate'], partial)).toEqual([]);
    expect(() => assertHandlers(['attack'], partial)).toThrow(
      /no handler for job kind attack:rerank .*refusing to start/,
    );
  });

  it('arcal-worker exits with code 2 and one readable line when a kind of its queues has no handler', () => {
    // The real entry point, with one handler taken out of the real table before it loads.
    const handlers = fileURLToPath(new URL('../src/handlers.ts', import.meta.url));
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const script = `process.argv = [process.execPath, 'arcal-worker', '--queues', 'orchestrate']; const h = await import(${JSON.stringify(handlers)}); delete h.HANDLERS['orchestrate:finalize']; await import(${JSON.stringify(main)});`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: {
        ...process.env,
        // Nothing listens here: a worker that went on past the check would fail differently.
        DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
        REDIS_URL: 'redis://127.0.0.1:1',
        ARTIFACT_DIR: '/nonexistent-arcal',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr.trim()).toBe(
      'arcal-worker: no handler for job kind orchestrate:finalize (queues orchestrate); refusing to start',
    );
    expect(r.status).toBe(2);
  }, 70_000);
});
