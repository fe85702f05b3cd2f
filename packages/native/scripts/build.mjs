// Root postinstall: builds the optional oneDNN addon. A failed build prints one line and never fails the install.
import { existsSync, statSync } from 'node:fs';

const here = new URL('..', import.meta.url).pathname;
if (!existsSync(`${here}binding.gyp`)) process.exit(0);
const { spawnSync } = await import('node:child_process');
const gyp = new URL('../../../node_modules/node-gyp/bin/node-gyp.js', import.meta.url).pathname;
// An incremental build when configured already: `rebuild` would delete a working addon that running
// processes in the same checkout may be loading, while `build` relinks only when a source changed.
const run = (verb) =>
  spawnSync(process.execPath, [gyp, verb, '--nodedir=/usr'], {
    cwd: here,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
// A binding.gyp newer than the generated Makefile (a source added) needs `configure` before `build`.
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
const configured = existsSync(`${here}build/config.gypi`);
if (configured && mtime(`${here}binding.gyp`) > mtime(`${here}build/Makefile`)) run('configure');
let r = configured ? run('build') : undefined;
if (r?.status !== 0) r = run('rebuild');
if (r.status !== 0) {
  console.log(
    'arcal: native kernels not built (install libdnnl-dev and run `npm rebuild` or `npm run build:native`); using the wasm backend',
  );
  if (process.env.REQUIRE_NATIVE === '1') {
    console.error(r.stdout + r.stderr);
    process.exit(1);
  }
} else console.log('arcal: native oneDNN kernels built');
