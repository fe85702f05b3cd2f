/**
 * File helpers shared by the processors and the hand-offs: a reader never sees a half-written file (write to
 * .tmp, then rename); a folder's finished files (temporary files of atomic writes skipped) and their sha256.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export async function writeAtomic(file: string, bytes: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
}

export const sha256File = (file: string) =>
  new Promise<string>((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => ok(h.digest('hex')))
      .on('error', fail);
  });

/** Every file below `dir` (none when it is missing), except temporary files of atomic writes (`*.tmp`). */
export async function* walkFiles(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walkFiles(p);
    else if (e.isFile() && !e.name.endsWith('.tmp')) yield p;
  }
}
