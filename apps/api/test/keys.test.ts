import { createHash } from 'node:crypto';
import { createDb } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyCommand } from '../src/keys.ts';

const integration = await integrationEnv('keys');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

describe.skipIf(!env)('arcal keys create', () => {
  it('--json prints a key whose sha256 is what the database holds, under the named project', async () => {
    let out = '';
    const code = await createKeyCommand(['create', '--project', 'lab-1', '--json'], {
      env: { DATABASE_URL: env!.databaseUrl },
      stdout: (s) => (out += s),
    });
    expect(code).toBe(0);
    const printed = JSON.parse(out);
    expect(printed.project).toBe('lab-1');
    expect(printed.key).toMatch(/^arcal_[A-Za-z0-9_-]{43}$/);
    const db = createDb(env!.databaseUrl);
    try {
      const row = await db.apiKey.findUniqueOrThrow({ where: { id: printed.id }, include: { project: true } });
      expect(row.keyHash).toBe(createHash('sha256').update(printed.key).digest('hex'));
      expect(row.project.name).toBe('lab-1');
    } finally {
      await db.$disconnect();
    }
  });

  it('refuses a missing or odd project name and unknown flags', async () => {
    const io = { env: { DATABASE_URL: env!.databaseUrl }, stdout: () => {} };
    await expect(createKeyCommand(['create'], io)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(createKeyCommand(['create', '--project', '../x'], io)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(createKeyCommand(['create', '--project', 'p', '--admin'], io)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('a bootstrap key is stored once however often the server starts', async () => {
    const db = createDb(env!.databaseUrl);
    try {
      const { ProjectsRepository } = await import('@arcal/db');
      const repo = new ProjectsRepository(db);
      await repo.importApiKey('default', 'arcal_bootstrap_secret', 'bootstrap');
      await repo.importApiKey('default', 'arcal_bootstrap_secret', 'bootstrap');
      expect(await db.apiKey.count({ where: { name: 'bootstrap' } })).toBe(1);
      expect((await repo.principalForKey('arcal_bootstrap_secret'))?.projectName).toBe('default');
    } finally {
      await db.$disconnect();
    }
  });
});
