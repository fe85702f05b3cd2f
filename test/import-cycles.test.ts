import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { importCycles } from '../scripts/import-cycles.ts';

const dir = mkdtempSync(join(tmpdir(), 'arcal-cycles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function files(tree: Record<string, string>): string {
  const root = mkdtempSync(join(dir, 'case-'));
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe('import cycles', () => {
  it('finds a type-only pair, a three-file ring through a re-export and a self-import, and nothing in a chain', () => {
    const root = files({
      // a ↔ b, b's side type-only
      'a.ts': "import { b } from './b.ts';\nexport interface A { x: number }\nexport const a = b;\n",
      'b.ts': "import type { A } from './a.ts';\nexport const b = 1;\nexport type B = A;\n",
      // c → d → e → c, the last step a re-export from a folder's index
      'c.ts': "import { d } from './d.ts';\nexport const c = d;\n",
      'd.ts': "import { e } from './sub';\nexport const d = e;\n",
      'sub/index.ts': "export { c as e } from '../c.ts';\n",
      // f imports itself
      'f.ts': "import type { F } from './f.ts';\nexport type F = number;\nexport const f: F = 1;\n",
      // a chain and a lazy import back: no cycle
      'g.ts': "import { h } from './h.ts';\nexport const g = h;\n",
      'h.ts': "export const h = 1;\nexport const load = () => import('./g.ts');\n",
      // a comment or a string naming a module is no import
      'i.ts': "// import { j } from './j.ts';\nexport const i = \"import './j.ts'\";\n",
      'j.ts': "import { i } from './i.ts';\nexport const j = i;\n",
    });
    const cycles = importCycles([root]).map((c) => ({
      files: c.files.map((f) => f.slice(root.length + 1)),
      edges: c.edges.map(
        (e) => `${e.from.slice(root.length + 1)}>${e.to.slice(root.length + 1)}${e.typeOnly ? ' type' : ''}`,
      ),
    }));
    expect(cycles.map((c) => c.files).sort()).toEqual([['a.ts', 'b.ts'], ['c.ts', 'd.ts', 'sub/index.ts'], ['f.ts']]);
    const pair = cycles.find((c) => c.files[0] === 'a.ts')!;
    expect(pair.edges.sort()).toEqual(['a.ts>b.ts', 'b.ts>a.ts type']);
    const ring = cycles.find((c) => c.files[0] === 'c.ts')!;
    expect(ring.edges.sort()).toEqual(['c.ts>d.ts', 'd.ts>sub/index.ts', 'sub/index.ts>c.ts']);
  });

  it('no package, app or the workers has one', () => {
    const dirs = [
      'packages/charts/src',
      'packages/cli/src',
      'packages/client/src',
      'packages/contracts/src',
      'packages/core/src',
      'packages/db/src',
      'packages/native/src',
      'packages/storage/src',
      'apps/api/src',
      'apps/web/src',
      'workers/src',
    ].map((d) => fileURLToPath(new URL(`../${d}`, import.meta.url)));
    expect(importCycles(dirs).map((c) => c.files)).toEqual([]);
  });
});
