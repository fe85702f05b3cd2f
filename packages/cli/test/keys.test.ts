import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDb } from '@arcal/db';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';

const integration = await integrationEnv('cli-keys');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const bin = new URL('../bin/arcal.js', import.meta.url).pathname;

describe.skipIf(!env)('arcal keys (the binary, through @arcal/db)', () => {
  it('creates a key whose sha256 the database holds under the named project and label', async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, 'keys', 'create', '--project', 'cli-lab', '--name', 'laptop', '--json'],
        { env: { ...process.env, DATABASE_URL: env!.databaseUrl }, timeout: 30_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout);
    const db = createDb(env!.databaseUrl, { max: 1 });
    try {
      const row = await db.apiKey.findUniqueOrThrow({ where: { id: printed.id }, include: { project: true } });
      expect(row.keyHash).toBe(createHash('sha256').update(printed.key).digest('hex'));
      expect([row.project.name, row.name, printed.project]).toEqual(['cli-lab', 'laptop', 'cli-lab']);
    } finally {
      await db.$disconnect();
    }
  });
});

describe('what the CLI depends on', () => {
  it('no app: the package lists neither @arcal/api nor @arcal/web, and its sources import neither', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(Object.keys(pkg.dependencies)).not.toContain('@arcal/api');
    expect(Object.keys(pkg.dependencies)).not.toContain('@arcal/web');
    const src = fileURLToPath(new URL('../src', import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readFileSync(join(src, f), 'utf8'), f).not.toMatch(/['"]@arcal\/(api|web)['"/]/);
  });

  it('arcal --help loads nothing else: main.ts imports only types at module level', () => {
    const src = readFileSync(new URL('../src/main.ts', import.meta.url), 'utf8');
    const imports = src.split('\n').filter((l) => /^import\s/.test(l));
    expect(imports.length).toBeGreaterThan(0);
    for (const l of imports) expect(l).toMatch(/^import type /);
  });
});
