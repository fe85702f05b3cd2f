// Root postinstall: builds the optional oneDNN addon. A failed build prints one line and never fails the install.
//
// The build runs in a staging directory (build/.stage: a copy of binding.gyp and a link to src) and the new
// addon replaces build/Release/arcal_native.node by a rename only when the build succeeded. Processes in the
// same checkout load that file at any time: a failed build (or node-gyp's `rebuild`, which deletes its build
// directory first) must never leave them without an addon, nor with a half-written one. The rename also leaves
// a running process's mapped copy untouched. ARCAL_NATIVE_DIR names another package directory (for tests).
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const pkg = process.env.ARCAL_NATIVE_DIR ?? new URL('..', import.meta.url).pathname;
if (!existsSync(join(pkg, 'binding.gyp'))) process.exit(0);
const stage = join(pkg, 'build', '.stage');
const target = join(pkg, 'build', 'Release', 'arcal_native.node');
const gyp = new URL('../../../node_modules/node-gyp/bin/node-gyp.js', import.meta.url).pathname;

mkdirSync(stage, { recursive: true });
// binding.gyp is copied only when it changed, so its mtime tells whether the stage needs `configure`.
const gypText = readFileSync(join(pkg, 'binding.gyp'), 'utf8');
const stagedGyp = join(stage, 'binding.gyp');
if (!existsSync(stagedGyp) || readFileSync(stagedGyp, 'utf8') !== gypText) writeFileSync(stagedGyp, gypText);
if (!existsSync(join(stage, 'src'))) symlinkSync(join(pkg, 'src'), join(stage, 'src'), 'dir');

const run = (verb) =>
  spawnSync(process.execPath, [gyp, verb, '--nodedir=/usr'], {
    cwd: stage,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
const configured = existsSync(join(stage, 'build', 'config.gypi'));
if (configured && mtime(stagedGyp) > mtime(join(stage, 'build', 'Makefile'))) run('configure');
// An incremental build when configured already; `rebuild` (clean, configure, build) only inside the stage.
let r = configured ? run('build') : undefined;
if (r?.status !== 0) r = run('rebuild');
const built = join(stage, 'build', 'Release', 'arcal_native.node');
if (r.status === 0 && existsSync(built)) {
  mkdirSync(join(pkg, 'build', 'Release'), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    copyFileSync(built, tmp);
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
  }
  console.log('arcal: native oneDNN kernels built');
} else {
  console.log(
    existsSync(target)
      ? 'arcal: native kernels not rebuilt (the build failed; the previous addon is kept): see `REQUIRE_NATIVE=1 npm run build:native`'
      : 'arcal: native kernels not built (install libdnnl-dev and run `npm rebuild` or `npm run build:native`); using the wasm backend',
  );
  if (process.env.REQUIRE_NATIVE === '1') {
    console.error(r.stdout + r.stderr);
    process.exit(1);
  }
}
