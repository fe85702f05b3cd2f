/**
 * The API must never load TensorFlow.js or @arcal/core: a child process imports @arcal/api under a module
 * resolve hook that records every URL it resolves.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../../../test/support/run-process.ts';

const root = new URL('../../../', import.meta.url);

async function resolvedBy(entry: string): Promise<string[]> {
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
  const r = await runProcess(
    process.execPath,
    ['--import', register, '--import', 'tsx', '-e', `await import(${JSON.stringify(entry)})`],
    { cwd: new URL('apps/api/', root), timeout: 60_000 },
  );
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  return [...r.stderr.matchAll(/^RESOLVED (.*)$/gm)].map((m) => m[1]!);
}

describe('module graph', () => {
  it('@arcal/api (routes, studies, queue admin) loads no tfjs and no @arcal/core', async () => {
    const urls = await resolvedBy('@arcal/api');
    expect(urls.some((u) => u.includes('/apps/api/src/plugins/queue-admin.ts'))).toBe(true);
    expect(urls.some((u) => u.includes('/apps/api/src/services/studies.service.ts'))).toBe(true);
    expect(urls.filter((u) => /tfjs|\/packages\/core\//.test(u))).toEqual([]);
  });

  it("the check itself sees tfjs where it is loaded (core's backend)", async () => {
    const urls = await resolvedBy(pathToFileURL(new URL('packages/core/src/study/index.ts', root).pathname).href);
    // core/study only re-exports contracts, so even it loads no tfjs …
    expect(urls.filter((u) => /tfjs/.test(u))).toEqual([]);
    // … while core's entry point does.
    const core = await resolvedBy(pathToFileURL(new URL('packages/core/src/backend/index.ts', root).pathname).href);
    expect(core.some((u) => /tfjs/.test(u))).toBe(true);
  });
});
