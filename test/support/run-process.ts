/**
 * A child process run to completion without blocking the test file's event loop: a synchronous spawn holds
 * the loop for the whole run, which starves vitest's own messages on a busy machine.
 */
import { spawn } from 'node:child_process';

export interface ProcessResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runProcess(
  command: string,
  args: string[],
  opts: { cwd?: string | URL; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, opts);
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
