/**
 * Every module a piece of code loads: a child process runs `source` (ESM, through tsx) under a module resolve
 * hook that prints each URL it resolves. Used to prove that an entry point loads no tfjs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runProcess } from './run-process.ts';

export interface ModuleGraph {
  status: number | null;
  stderr: string;
  /** Every URL resolved while `source` ran, in order. */
  urls: string[];
}

export async function modulesResolvedBy(source: string, cwd: URL | string): Promise<ModuleGraph> {
  const dir = mkdtempSync(join(tmpdir(), 'arcal-imports-'));
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('RESOLVED ' + r.url + '\\n'); return r; }\n`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  const r = await runProcess(process.execPath, ['--import', register, '--import', 'tsx', '-e', source], {
    cwd,
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr, urls: [...r.stderr.matchAll(/^RESOLVED (.*)$/gm)].map((m) => m[1]!) };
}
