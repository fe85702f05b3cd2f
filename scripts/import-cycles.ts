/**
 * Import cycles among the repository's own TypeScript files: `npx tsx scripts/import-cycles.ts [dir ...]`
 * (default: every package's, app's and the workers' src). Follows static imports and `export … from`,
 * type-only ones included (a type-only cycle still ties two modules' designs together), relative specifiers
 * and `@arcal/<package>[/<subpath>]` through the package's "exports"; generated code is left out. Dynamic
 * `import()` is left out too: it is how a module reaches a heavy dependency lazily, not a dependency at load
 * time. Prints each cycle (a strongly connected set of modules) with its edges, and exits 1 when there is one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface ImportEdge {
  from: string;
  to: string;
  /** Every import between the two files is `import type` / `export type` (or only names marked `type`). */
  typeOnly: boolean;
}

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'generated' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (/\.(ts|mts|tsx)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

/** `@arcal/<name>` → its folder and "exports" map, for every workspace package. */
function workspacePackages(): Map<string, { dir: string; exports: Record<string, string> }> {
  const out = new Map<string, { dir: string; exports: Record<string, string> }>();
  for (const group of ['packages', 'apps', '.']) {
    const base = join(ROOT, group);
    const dirs = group === '.' ? ['workers'] : readdirSync(base);
    for (const d of dirs) {
      const file = join(base, d, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; exports?: unknown };
      const exports: Record<string, string> = {};
      const raw = pkg.exports;
      if (typeof raw === 'string') exports['.'] = raw;
      else if (raw && typeof raw === 'object')
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          // a conditional export: the first condition naming a .ts file (the source), else the default
          const target =
            typeof v === 'string'
              ? v
              : (Object.values(v as Record<string, unknown>).find((t) => typeof t === 'string' && t.endsWith('.ts')) ??
                (v as Record<string, unknown>).default);
          if (typeof target === 'string') exports[k] = target;
        }
      out.set(pkg.name, { dir: join(base, d), exports });
    }
  }
  return out;
}

function resolveSpecifier(
  spec: string,
  fromFile: string,
  packages: ReturnType<typeof workspacePackages>,
): string | undefined {
  let target: string | undefined;
  if (spec.startsWith('.')) target = resolve(dirname(fromFile), spec);
  else {
    const m = /^(@arcal\/[^/]+)(\/.*)?$/.exec(spec);
    const pkg = m && packages.get(m[1]!);
    if (!pkg) return undefined;
    const sub = pkg.exports[m![2] ? `.${m![2]}` : '.'];
    if (!sub) return undefined;
    target = resolve(pkg.dir, sub);
  }
  for (const candidate of [target, `${target}.ts`, join(target, 'index.ts')])
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return undefined;
}

/** Static import and re-export edges of one file (resolved to files in this repository). */
function edgesOf(file: string, packages: ReturnType<typeof workspacePackages>): ImportEdge[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const byTarget = new Map<string, boolean>();
  for (const st of source.statements) {
    let spec: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(st)) {
      spec = st.moduleSpecifier;
      const clause = st.importClause;
      const named = clause?.namedBindings;
      typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!named &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier) {
      spec = st.moduleSpecifier;
      const named = st.exportClause;
      typeOnly =
        st.isTypeOnly ||
        (!!named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
    }
    if (!spec || !ts.isStringLiteral(spec)) continue;
    const to = resolveSpecifier(spec.text, file, packages);
    // generated code (Prisma's client) is not ours to untangle
    if (!to || to.split(/[\\/]/).includes('generated')) continue;
    byTarget.set(to, (byTarget.get(to) ?? true) && typeOnly);
  }
  return [...byTarget].map(([to, typeOnly]) => ({ from: file, to, typeOnly }));
}

/** The import graph's strongly connected sets of two or more files (and files importing themselves). */
export function importCycles(roots: string[]): { files: string[]; edges: ImportEdge[] }[] {
  const packages = workspacePackages();
  const files = roots.flatMap((r) => [...tsFiles(r)]);
  const edges = new Map<string, ImportEdge[]>();
  // files reached through a package's exports may lie outside the roots: walk them too, so that a cycle
  // through another package is found
  const queue = [...files];
  while (queue.length) {
    const f = queue.pop()!;
    if (edges.has(f)) continue;
    const out = edgesOf(f, packages);
    edges.set(f, out);
    for (const e of out) if (!edges.has(e.to)) queue.push(e.to);
  }
  // Tarjan's algorithm, iterative (deep import chains would overflow a recursive one)
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sets: string[][] = [];
  let next = 0;
  for (const start of edges.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; i: number }[] = [{ node: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      const out = edges.get(top.node)!;
      if (top.i < out.length) {
        const w = out[top.i++]!.to;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const set: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          set.push(w);
        } while (w !== top.node);
        const selfLoop = out.some((e) => e.to === top.node);
        if (set.length > 1 || selfLoop) sets.push(set.sort());
      }
    }
  }
  return sets.map((set) => {
    const members = new Set(set);
    return { files: set, edges: set.flatMap((f) => edges.get(f)!.filter((e) => members.has(e.to))) };
  });
}

const DEFAULT_ROOTS = ['packages', 'apps']
  .flatMap((g) => readdirSync(join(ROOT, g)).map((d) => join(ROOT, g, d, 'src')))
  .concat(join(ROOT, 'workers', 'src'))
  .filter((d) => existsSync(d));

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const roots = args.length ? args.map((a) => resolve(a)) : DEFAULT_ROOTS;
  const cycles = importCycles(roots);
  const rel = (f: string) => relative(ROOT, f);
  for (const c of cycles) {
    console.log(`cycle of ${c.files.length}: ${c.files.map(rel).join(', ')}`);
    for (const e of c.edges) console.log(`  ${rel(e.from)} -> ${rel(e.to)}${e.typeOnly ? ' (type only)' : ''}`);
  }
  console.log(`${cycles.length} import cycle(s) in ${roots.map(rel).join(', ')}`);
  process.exitCode = cycles.length ? 1 : 0;
}
