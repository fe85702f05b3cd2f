/**
 * Ctrl-C during `arcal run`'s robustness attack, as a user presses it: SIGINT to a child process once it has
 * entered the attack. The attack is sized so that it cannot finish on any machine before the signal is
 * handled (FMN with 100,000 steps per batch, 32 batches): the outcome does not depend on timing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../bin/arcal.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arcal-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spec = {
  name: 'interrupt',
  seed: 5,
  dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], trainLimit: 256, validationSize: 16, testLimit: 16 },
  model: { arch: 'mlp', hidden: [8] },
  training: { epochs: 1, batchSize: 16, optimizer: 'sgd', learningRate: 0.1 },
  method: {
    kind: 'ar-adals',
    subsets: 2,
    alpha: 1,
    robustness: { attack: 'fmn-l2', source: 'precompute', params: { steps: 100000, batchSize: 8 } },
  },
  ensemble: { members: 1, mode: 'independent' },
  evaluation: { bins: 5, robustnessSubsets: 0 },
};

interface Run {
  child: ChildProcess;
  output: () => string;
  /** Resolves once `text` has been printed (stdout or stderr). */
  printed: (text: string) => Promise<void>;
  exited: Promise<number | null>;
}

function arcal(...args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ARCAL_BACKEND: 'wasm', ARCAL_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiting: Array<{ text: string; resolve: () => void }> = [];
  const take = (d: Buffer) => {
    out += d;
    for (const w of [...waiting]) {
      if (!out.includes(w.text)) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  // a signal sent after it exited is not an error here
  child.on('error', () => {});
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    printed: (text) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve();
        waiting.push({ text, resolve });
        exited.then(() => (out.includes(text) ? resolve() : reject(new Error(`exited without "${text}":\n${out}`))));
      }),
    exited,
  };
}

describe('Ctrl-C during arcal run', () => {
  it('stops the robustness attack (exit 130), and --resume continues from the trained reference model, where a second Ctrl-C also ends it with 130', async () => {
    const file = join(dir, 'spec.json');
    const out = join(dir, 'run');
    writeFileSync(file, JSON.stringify(spec));
    const first = arcal('run', file, '--out', out);
    try {
      await first.printed('» robustness');
      first.child.kill('SIGINT');
      expect(await first.exited).toBe(130);
      expect(first.output()).toMatch(
        /^arcal: interrupted — robustness attack interrupted; continue with `arcal run --resume/m,
      );
      // the reference model was finished and kept; the attack's result was not written
      expect(existsSync(join(out, 'reference', 'model'))).toBe(true);
      expect(readdirSync(join(out, 'reference')).filter((f) => f.startsWith('robustness-'))).toEqual([]);
      expect(existsSync(join(out, 'report.json'))).toBe(false);
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }

    const resumed = arcal('run', '--resume', out);
    try {
      await resumed.printed('» robustness');
      // continued: the reference model was loaded, not trained again (no batch progress before the attack)
      expect(resumed.output()).not.toMatch(/reference batches/);
      resumed.child.kill('SIGINT');
      await resumed.printed('press Ctrl-C again to quit at once');
      resumed.child.kill('SIGINT');
      expect(await resumed.exited).toBe(130);
      expect(existsSync(join(out, 'report.json'))).toBe(false);
    } finally {
      if (resumed.child.exitCode === null) resumed.child.kill('SIGKILL');
    }
  }, 60_000);
});
