/**
 * Reading a dataset file into memory, transparently un-gzipping it. The only file I/O of the decoders;
 * every failure becomes an ArcalError that names the file.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ArcalError } from '@arcal/contracts';

/** True when `b` starts with the gzip magic number 1f 8b. */
export const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * The bytes of `file`, gunzipped when they start with the gzip magic (whatever the file is called).
 * A damaged or truncated gzip stream is DATA_CORRUPT; a missing file is DATA_NOT_FOUND.
 */
export function readDatasetFile(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new ArcalError('DATA_NOT_FOUND', `${file}: file does not exist`);
    throw new ArcalError('DATA_CORRUPT', `${file}: cannot be read (${err.code ?? err.message})`);
  }
  return gunzipIfNeeded(raw, file);
}

/** `bytes` un-gzipped when gzipped, else unchanged; `file` only names the source in errors. */
export function gunzipIfNeeded(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new ArcalError('DATA_CORRUPT', `${file}: damaged or truncated gzip stream (${(e as Error).message})`);
  }
}
