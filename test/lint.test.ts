/**
 * The code base passes its linter and formatter (biome.json): `npx biome check` over the committed files exits 0.
 * Run as a test so that CI holds every change to the same rules.
 */
import { execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

describe('biome check', () => {
  it('finds no lint or format error', { timeout: 60_000 }, async () => {
    const bin = resolve(root, 'node_modules', '.bin', 'biome');
    // the committed files only: files other tests create while the suite runs are not the code base
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(100);
    const child = spawn(bin, ['check', '--files-ignore-unknown=true', '--max-diagnostics=20', ...files], { cwd: root });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const code = await new Promise<number | null>((done, fail) => {
      child.on('error', fail);
      child.on('close', done);
    });
    expect(code, out.slice(-4000)).toBe(0);
  });
});
