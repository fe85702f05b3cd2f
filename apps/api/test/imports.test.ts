/**
 * The API must never load TensorFlow.js or @arcal/core: a child process imports @arcal/api under a module
 * resolve hook that records every URL it resolves.
 */
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modulesResolvedBy } from '../../../test/support/module-graph.ts';

const root = new URL('../../../', import.meta.url);

async function resolvedBy(entry: string): Promise<string[]> {
  const r = await modulesResolvedBy(`await import(${JSON.stringify(entry)})`, new URL('apps/api/', root));
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  return r.urls;
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
