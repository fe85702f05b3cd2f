/**
 * `scripts/reproduce.ts` in a child process, for the reproduction tests: asynchronous, so the test's event loop
 * stays free while it runs; resolves with the exit status and what it wrote to stderr (progress and errors).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

export function runReproduce(args: string[], threads: string): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reproduce.ts', ...args], {
    cwd: root,
    env: { ...process.env, ARCAL_THREADS: threads },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.stdout.resume();
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (status) => done({ status, stderr }));
  });
}
