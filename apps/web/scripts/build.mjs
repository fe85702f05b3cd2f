/**
 * Builds the dashboard into apps/web/dist: one ES-module bundle (the app, @arcal/client, vega, vega-lite,
 * vega-embed — nothing loaded from elsewhere at run time), index.html and style.css. Offline; esbuild only.
 * `node apps/web/scripts/build.mjs` or `npm run build:web`; buildWeb() for tests.
 */
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const webRoot = join(here, '..');
export const distDir = join(webRoot, 'dist');

/** Builds into a temporary folder and swaps it in, so a server never sees a half-written dist. */
export async function buildWeb({ outDir = distDir, minify = true } = {}) {
  const tmp = `${outDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const t0 = performance.now();
  const r = await build({
    entryPoints: [join(webRoot, 'src/app/main.ts')],
    outfile: join(tmp, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: false,
    legalComments: 'linked',
    logLevel: 'silent',
    metafile: true,
  });
  await copyFile(join(webRoot, 'src/app/index.html'), join(tmp, 'index.html'));
  await copyFile(join(webRoot, 'src/app/style.css'), join(tmp, 'style.css'));
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
  const bytes = (await stat(join(outDir, 'app.js'))).size;
  return { outDir, bytes, seconds: (performance.now() - t0) / 1000, warnings: r.warnings.length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildWeb();
  console.log(JSON.stringify(r));
}
