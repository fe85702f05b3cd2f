/**
 * scripts/build.mjs replaces the built addon only after a successful build: a failed build leaves the previous
 * file in place (other processes in the checkout load it at any time). Runs the script on a tiny package of
 * its own (ARCAL_NATIVE_DIR) whose one source file compiles, then does not.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '../../../test/support/run-process.ts';

const script = new URL('../scripts/build.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arcal-native-build-'));
const addon = join(dir, 'build', 'Release', 'arcal_native.node');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const build = () =>
  runProcess(process.execPath, [script], { env: { ...process.env, ARCAL_NATIVE_DIR: dir, REQUIRE_NATIVE: '' } });

describe('native build script', () => {
  it('installs a successful build and keeps it when a later build fails', async () => {
    writeFileSync(
      join(dir, 'binding.gyp'),
      JSON.stringify({ targets: [{ target_name: 'arcal_native', sources: ['src/probe.cc'] }] }),
    );
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    writeFileSync(addon, 'an older build');
    writeFileSync(join(dir, 'src', 'probe.cc'), 'extern "C" int arcal_probe() { return 42; }\n');

    const ok = await build();
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('native oneDNN kernels built');
    const first = readFileSync(addon);
    // a shared object (ELF magic), not the placeholder
    expect([...first.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);

    writeFileSync(join(dir, 'src', 'probe.cc'), 'extern "C" int arcal_probe() { return ; broken\n');
    const bad = await build();
    expect(bad.status).toBe(0);
    expect(bad.stdout).toContain('previous addon is kept');
    expect(readFileSync(addon).equals(first)).toBe(true);
  }, 60_000);
});
