/**
 * `npm ci` on the oldest Node arcal supports must install without engine warnings and without unreviewed
 * install scripts. Both are decided by package-lock.json, so an upgrade that pulls in a package needing a newer
 * Node (or one that brings a new install script) fails here instead of surfacing as install noise.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

interface Semver {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
  validRange(range: string): string | null;
}
const semver = createRequire(import.meta.url)('semver') as Semver;

interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  optional?: boolean;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
  dependencies?: Record<string, string>;
}

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8'));
const entries = Object.entries(lock.packages as Record<string, LockEntry>);

const declared: string = pkg.engines.node;
const minimum = semver.minVersion(declared)?.version ?? '';

/** The installed name of a lock entry: its path after the last node_modules/ (an alias keeps that path). */
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** Every entry whose declared engines.node range leaves out `version`. */
function excluding(version: string, list: Array<[string, LockEntry]>): string[] {
  const out: string[] = [];
  for (const [path, e] of list) {
    // An array-valued "engines" is a pre-npm-3 relic that npm ignores.
    const range = e.engines && !Array.isArray(e.engines) ? e.engines.node : undefined;
    if (range === undefined) continue;
    if (!semver.validRange(range) || !semver.satisfies(version, range)) {
      out.push(`${path || '(root)'}@${e.version ?? ''} needs node ${range}`);
    }
  }
  return out;
}

describe('package-lock.json against the declared Node minimum', () => {
  it('reads one minimum from package.json, recorded the same in the lock', () => {
    expect(minimum).toMatch(/^\d+\.\d+\.\d+$/);
    expect(lock.packages[''].engines?.node).toBe(declared);
  });

  it('the check itself rejects ranges that leave the minimum out', () => {
    const probes: Array<[string, LockEntry]> = [
      ['node_modules/a', { version: '1.0.0', engines: { node: '>=22' } }],
      ['node_modules/b', { version: '1.0.0', engines: { node: '^22.22.2 || ^24.15.0 || >=26.0.0' } }],
      ['node_modules/c', { version: '1.0.0', engines: { node: '^18.17.0 || >=20.5.0' } }],
      ['node_modules/d', { version: '1.0.0', engines: { node: '^20.19.0 || ^22.12.0 || >=23' } }],
      ['node_modules/e', { version: '1.0.0', engines: ['node >=0.4'] }],
    ];
    expect(excluding('20.19.0', probes)).toEqual([
      'node_modules/a@1.0.0 needs node >=22',
      'node_modules/b@1.0.0 needs node ^22.22.2 || ^24.15.0 || >=26.0.0',
    ]);
    expect(excluding('20.18.0', probes)).toHaveLength(3);
  });

  it('every locked package accepts the declared minimum Node', () => {
    expect(excluding(minimum, entries)).toEqual([]);
  });

  it('records each workspace with the dependencies its package.json declares', () => {
    // `npm ci` refuses a lock that disagrees with a package.json, so a dependency edited without the lock
    // breaks every fresh install.
    const folders = ['', 'workers'];
    for (const parent of ['packages', 'apps']) {
      for (const d of readdirSync(new URL(`${parent}/`, root))) {
        if (existsSync(new URL(`${parent}/${d}/package.json`, root))) folders.push(`${parent}/${d}`);
      }
    }
    const sorted = (o: Record<string, string> | undefined) =>
      Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    const kinds = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
    const differing: string[] = [];
    for (const folder of folders) {
      const manifest = JSON.parse(readFileSync(new URL(`${folder ? `${folder}/` : ''}package.json`, root), 'utf8'));
      const locked = lock.packages[folder];
      if (!locked) {
        differing.push(`${folder}: not in the lock`);
        continue;
      }
      for (const kind of kinds) {
        if (JSON.stringify(sorted(manifest[kind])) !== JSON.stringify(sorted(locked[kind]))) {
          differing.push(`${folder || '(root)'} ${kind}`);
        }
      }
    }
    expect(differing).toEqual([]);
  });

  it('every dependency of every locked package is itself locked', () => {
    // npm has been seen to drop an overridden package's subtree from the lock and still report "up to date".
    const paths = new Set(entries.map(([p]) => p));
    const resolves = (from: string, name: string) => {
      let base = from;
      for (;;) {
        if (paths.has(`${base ? `${base}/` : ''}node_modules/${name}`)) return true;
        if (!base) return false;
        const i = base.lastIndexOf('node_modules/');
        base = i < 0 ? '' : base.slice(0, i).replace(/\/$/, '');
      }
    };
    const missing: string[] = [];
    for (const [path, e] of entries) {
      if (e.link) continue;
      for (const dep of Object.keys(e.dependencies ?? {})) if (!resolves(path, dep)) missing.push(`${path} -> ${dep}`);
    }
    expect(missing).toEqual([]);
  });

  it('every install script in the lock is approved or denied in allowScripts', () => {
    const policy: Record<string, boolean> = pkg.allowScripts ?? {};
    // The lock carries no tarball URLs here (omit-lockfile-registry-resolved), and npm matches a pinned
    // "name@version" key only against a URL, so the policy is keyed by name alone.
    for (const key of Object.keys(policy)) expect(key, key).not.toMatch(/.@/);
    const unreviewed = entries
      .filter(([path, e]) => path.includes('node_modules/') && e.hasInstallScript)
      .map(([path, e]) => e.name ?? nameOf(path))
      .filter((name) => typeof policy[name] !== 'boolean');
    expect([...new Set(unreviewed)]).toEqual([]);
  });
});
